//! Parsing of one List Blobs response page (`EnumerationResults` XML).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use quick_xml::events::{BytesRef, Event};
use quick_xml::reader::Reader;
use time::PrimitiveDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

use super::{BlobItem, ListItem, ListPage};
use crate::{Error, ErrorKind, Result};

/// `Last-Modified` as the service writes it (RFC 1123, always GMT).
const HTTP_DATE: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// Parses one page of a List Blobs response.
///
/// Blob and prefix names come back exactly: XML entities and character references are
/// resolved, and a name sent with `Encoded="true"` (the service does this for names with
/// characters that XML 1.0 cannot carry) is percent-decoded. Line ends inside names are kept
/// as sent rather than normalized.
pub(crate) fn parse_page(xml: &str) -> Result<ListPage> {
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut name_encoded = false;
    let mut blob: Option<BlobItem> = None;
    let mut page = ListPage::default();
    let mut saw_root = false;

    loop {
        let event = reader
            .read_event()
            .map_err(|error| malformed(&error.to_string()))?;
        match event {
            Event::Start(start) => {
                let tag = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if tag == "Name" {
                    name_encoded = start
                        .try_get_attribute("Encoded")
                        .map_err(|error| malformed(&error.to_string()))?
                        .is_some_and(|value| value.value.as_ref() == b"true");
                }
                saw_root |= tag == "EnumerationResults";
                if tag == "Blob" {
                    blob = Some(BlobItem::default());
                }
                path.push(tag);
                text.clear();
            }
            Event::Text(content) => {
                let decoded = content
                    .decode()
                    .map_err(|error| malformed(&error.to_string()))?;
                text.push_str(&decoded);
            }
            Event::CData(content) => {
                let decoded = content
                    .decode()
                    .map_err(|error| malformed(&error.to_string()))?;
                text.push_str(&decoded);
            }
            Event::GeneralRef(reference) => text.push(resolve_reference(&reference)?),
            Event::End(_) => {
                let value = std::mem::take(&mut text);
                on_element_end(&path, value, name_encoded, &mut blob, &mut page)?;
                path.pop();
            }
            Event::Eof if !path.is_empty() => {
                return Err(malformed(&format!(
                    "the document ends inside <{}>",
                    path.join("><")
                )));
            }
            Event::Eof if !saw_root => return Err(malformed("no EnumerationResults element")),
            Event::Eof => break,
            _ => {}
        }
    }
    if page.next_marker.as_deref() == Some("") {
        page.next_marker = None;
    }
    // Azure interleaves blobs and prefixes in name order, but Azurite 3.35 sends prefixes
    // first, so the page is sorted to keep one order for callers.
    page.items.sort_by(|a, b| a.name().cmp(b.name()));
    Ok(page)
}

/// Stores the text of the element that just ended, chosen by its position in the document.
fn on_element_end(
    path: &[String],
    value: String,
    name_encoded: bool,
    blob: &mut Option<BlobItem>,
    page: &mut ListPage,
) -> Result<()> {
    let tags: Vec<&str> = path.iter().map(String::as_str).collect();
    match tags.as_slice() {
        ["EnumerationResults", "NextMarker"] => page.next_marker = Some(value),
        ["EnumerationResults", "Blobs", "Blob"] => {
            if let Some(item) = blob.take() {
                page.items.push(ListItem::Blob(item));
            }
        }
        ["EnumerationResults", "Blobs", "Blob", "Name"] => {
            if let Some(item) = blob.as_mut() {
                item.name = decode_name(value, name_encoded)?;
            }
        }
        ["EnumerationResults", "Blobs", "BlobPrefix", "Name"] => {
            page.items
                .push(ListItem::Prefix(decode_name(value, name_encoded)?));
        }
        [
            "EnumerationResults",
            "Blobs",
            "Blob",
            "Properties",
            property,
        ] => {
            if let Some(item) = blob.as_mut() {
                set_property(item, property, value)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn set_property(item: &mut BlobItem, property: &str, value: String) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    match property {
        "Content-Length" => {
            item.size = value
                .parse()
                .map_err(|_| malformed(&format!("Content-Length {value:?} is not a number")))?;
        }
        // Azure lists ETags without quotes and Azurite 3.35 with them; both become the
        // quoted form of the `ETag` header.
        "Etag" => item.etag = Some(format!("\"{}\"", value.trim_matches('"'))),
        "Content-Type" => item.content_type = Some(value),
        "BlobType" => item.blob_type = Some(value),
        "Content-MD5" => match BASE64.decode(value.as_bytes()) {
            Ok(bytes) if bytes.len() == 16 => {
                let mut md5 = [0u8; 16];
                md5.copy_from_slice(&bytes);
                item.content_md5 = Some(md5);
            }
            _ => tracing::debug!(
                blob.name = %item.name,
                content_md5 = %value,
                "ignoring a Content-MD5 that is not 16 bytes of base64"
            ),
        },
        "Last-Modified" => {
            let parsed = PrimitiveDateTime::parse(&value, HTTP_DATE)
                .map_err(|_| malformed(&format!("Last-Modified {value:?} is not an HTTP date")))?;
            item.last_modified = Some(parsed.assume_utc());
        }
        _ => {}
    }
    Ok(())
}

fn decode_name(value: String, encoded: bool) -> Result<String> {
    if !encoded {
        return Ok(value);
    }
    percent_encoding::percent_decode_str(&value)
        .decode_utf8()
        .map(|name| name.into_owned())
        .map_err(|_| {
            malformed(&format!(
                "encoded name {value:?} is not UTF-8 after decoding"
            ))
        })
}

fn resolve_reference(reference: &BytesRef<'_>) -> Result<char> {
    if let Some(character) = reference
        .resolve_char_ref()
        .map_err(|error| malformed(&error.to_string()))?
    {
        return Ok(character);
    }
    let name = reference
        .decode()
        .map_err(|error| malformed(&error.to_string()))?;
    match name.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(malformed(&format!("unknown XML entity &{other};"))),
    }
}

fn malformed(detail: &str) -> Error {
    Error::new(
        ErrorKind::Service,
        format!("invalid List Blobs response: {detail}"),
    )
}

/// Returns the time as the service formats `Last-Modified`, for tests and fakes.
#[cfg(test)]
fn format_http_date(time: time::OffsetDateTime) -> String {
    time.format(HTTP_DATE).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const PAGE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="http://127.0.0.1:10000/devstoreaccount1" ContainerName="results">
  <Prefix>job/</Prefix><Marker /><MaxResults>3</MaxResults><Delimiter>/</Delimiter>
  <Blobs>
    <Blob>
      <Name>job/a &amp; b &lt;1&gt; &#x00E9;t&#233;.out.gz</Name>
      <Properties>
        <Creation-Time>Fri, 04 Dec 2026 16:00:00 GMT</Creation-Time>
        <Last-Modified>Fri, 04 Dec 2026 16:34:55 GMT</Last-Modified>
        <Etag>0x8DE1234ABCD</Etag>
        <Content-Length>69670</Content-Length>
        <Content-Type>application/gzip</Content-Type>
        <Content-Encoding />
        <Content-MD5>XrY7u+Ae7tCTyyK7j1rNww==</Content-MD5>
        <BlobType>BlockBlob</BlobType>
      </Properties>
      <Metadata><Name>not a blob name</Name></Metadata>
    </Blob>
    <Blob>
      <Name Encoded="true">job/line%0Dbreak%EF%BF%BE</Name>
      <Properties><Content-Length>0</Content-Length><Content-MD5 /></Properties>
    </Blob>
    <BlobPrefix><Name>job/metadata/</Name></BlobPrefix>
    <BlobPrefix><Name>job/日本語/</Name></BlobPrefix>
  </Blobs>
  <NextMarker>2!84!MDAwMDE5IWpvYi9tZXRhZGF0YS8-</NextMarker>
</EnumerationResults>"#;

    #[test]
    fn page_items_and_marker() {
        let page = parse_page(PAGE).unwrap();
        assert_eq!(page.items.len(), 4);
        let names: Vec<&str> = page.items.iter().map(ListItem::name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(
            page.next_marker.as_deref(),
            Some("2!84!MDAwMDE5IWpvYi9tZXRhZGF0YS8-")
        );
        let ListItem::Blob(first) = &page.items[0] else {
            panic!("first item is not a blob: {:?}", page.items[0]);
        };
        assert_eq!(first.name, "job/a & b <1> été.out.gz");
        assert_eq!(first.size, 69670);
        assert_eq!(first.etag.as_deref(), Some("\"0x8DE1234ABCD\""));
        assert_eq!(first.content_type.as_deref(), Some("application/gzip"));
        assert_eq!(first.blob_type.as_deref(), Some("BlockBlob"));
        assert_eq!(
            first.content_md5.map(hex_string).as_deref(),
            Some("5eb63bbbe01eeed093cb22bb8f5acdc3")
        );
        assert_eq!(
            first.last_modified,
            Some(datetime!(2026-12-04 16:34:55 UTC))
        );
    }

    #[test]
    fn encoded_name_is_percent_decoded() {
        let page = parse_page(PAGE).unwrap();
        let ListItem::Blob(second) = &page.items[1] else {
            panic!("second item is not a blob");
        };
        assert_eq!(second.name, "job/line\rbreak\u{FFFE}");
        assert_eq!(second.size, 0);
        assert_eq!(second.content_md5, None);
    }

    #[test]
    fn prefixes_keep_non_ascii() {
        let page = parse_page(PAGE).unwrap();
        assert_eq!(page.items[2], ListItem::Prefix("job/metadata/".into()));
        assert_eq!(page.items[3], ListItem::Prefix("job/日本語/".into()));
    }

    #[test]
    fn empty_marker_ends_listing() {
        let xml = "<EnumerationResults><Blobs /><NextMarker /></EnumerationResults>";
        let page = parse_page(xml).unwrap();
        assert!(page.items.is_empty());
        assert_eq!(page.next_marker, None);
    }

    #[test]
    fn malformed_xml_is_a_service_error() {
        let error = parse_page("<EnumerationResults><Blobs><Blob>").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Service);
        assert!(
            error
                .message()
                .contains("<EnumerationResults><Blobs><Blob>"),
            "{error}"
        );
        let error = parse_page("").unwrap_err();
        assert!(error.message().contains("no EnumerationResults"), "{error}");
        let error = parse_page(
            "<EnumerationResults><Blobs><Blob><Name>x</Name><Properties>\
             <Content-Length>ten</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
        )
        .unwrap_err();
        assert!(error.message().contains("\"ten\""), "{error}");
    }

    #[test]
    fn http_date_round_trips() {
        let time = datetime!(2026-01-02 03:04:05 UTC);
        assert_eq!(format_http_date(time), "Fri, 02 Jan 2026 03:04:05 GMT");
        let parsed = PrimitiveDateTime::parse(&format_http_date(time), HTTP_DATE).unwrap();
        assert_eq!(parsed.assume_utc(), time);
    }

    fn hex_string(bytes: [u8; 16]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}
