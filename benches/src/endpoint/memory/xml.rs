//! The XML bodies of the endpoint: `List Blobs` results, `Put Block List` requests and
//! error responses.

use std::fmt::Write;

use super::store::Blob;

/// Escapes text for an XML element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(character),
        }
    }
    out
}

/// The query of one `List Blobs` request.
pub struct ListQuery<'a> {
    /// The account URL with a trailing slash.
    pub service_endpoint: &'a str,
    /// The container name.
    pub container: &'a str,
    /// The name prefix, empty for all.
    pub prefix: &'a str,
    /// The marker from the previous page, empty for the first page.
    pub marker: &'a str,
    /// The maximum number of entries in the page.
    pub max_results: usize,
}

/// Builds one page of `List Blobs` results from blobs already filtered by prefix and marker,
/// where `next_marker` names the first blob of the following page.
pub fn list_results(
    query: &ListQuery<'_>,
    blobs: &[(&String, &Blob)],
    next_marker: Option<&str>,
) -> String {
    let mut xml = String::with_capacity(256 + blobs.len() * 600);
    let _ = write!(
        xml,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults \
         ServiceEndpoint=\"{}\" ContainerName=\"{}\"><Prefix>{}</Prefix><Marker>{}</Marker>\
         <MaxResults>{}</MaxResults><Blobs>",
        escape(query.service_endpoint),
        escape(query.container),
        escape(query.prefix),
        escape(query.marker),
        query.max_results
    );
    for (name, blob) in blobs {
        let _ = write!(
            xml,
            "<Blob><Name>{}</Name><Properties><Creation-Time>{modified}</Creation-Time>\
             <Last-Modified>{modified}</Last-Modified><Etag>{}</Etag>\
             <Content-Length>{}</Content-Length><Content-Type>{}</Content-Type>\
             <Content-Encoding /><Content-Language /><Content-MD5>{}</Content-MD5>\
             <Cache-Control /><BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier>\
             <AccessTierInferred>true</AccessTierInferred><LeaseStatus>unlocked</LeaseStatus>\
             <LeaseState>available</LeaseState><ServerEncrypted>true</ServerEncrypted>\
             </Properties></Blob>",
            escape(name),
            escape(&blob.etag),
            blob.content.len(),
            escape(&blob.content_type),
            blob.content_md5.as_deref().unwrap_or(""),
            modified = blob.last_modified,
        );
    }
    xml.push_str("</Blobs>");
    match next_marker {
        Some(marker) => {
            let _ = write!(xml, "<NextMarker>{}</NextMarker>", escape(marker));
        }
        None => xml.push_str("<NextMarker />"),
    }
    xml.push_str("</EnumerationResults>");
    xml
}

/// Returns the block ids of a `Put Block List` body in order, whether listed as `Latest`,
/// `Uncommitted` or `Committed`.
///
/// # Errors
///
/// Fails when the body is not UTF-8 or an element is not closed.
pub fn block_list(body: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the block list is not UTF-8".to_owned())?;
    let mut ids = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            return Err("the block list has an unclosed tag".to_owned());
        };
        let tag = &after[..close];
        rest = &after[close + 1..];
        if matches!(tag, "Latest" | "Uncommitted" | "Committed") {
            let Some(end) = rest.find('<') else {
                return Err(format!("the block list has an unclosed <{tag}>"));
            };
            ids.push(unescape(rest[..end].trim()));
            rest = &rest[end..];
        }
    }
    Ok(ids)
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Builds an error body with the storage error code and message.
pub fn error(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{}</Message>\
         </Error>",
        escape(code),
        escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_list_keeps_document_order() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<BlockList><Latest>AAA=</Latest><Uncommitted>QkI=</Uncommitted><Latest>Yy8r</Latest></BlockList>"#;
        assert_eq!(block_list(body).unwrap(), ["AAA=", "QkI=", "Yy8r"]);
    }

    #[test]
    fn block_list_rejects_unclosed_tags() {
        assert!(block_list(b"<BlockList><Latest>AAA=").is_err());
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape("a&b<c>\"'"), "a&amp;b&lt;c&gt;&quot;&apos;");
    }
}
