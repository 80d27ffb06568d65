//! The blob examples (`upload`, `download`, `zip_results`) against Azurite over HTTPS with
//! OAuth, authorized by workload identity tokens from the test Entra ID service.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use elb_core::blob::{BlobAuth, BlobOptions, BlobStore};
use elb_test_servers::azurite::{Azurite, AzuriteMode, repo_root};

use crate::auth_support::{CLIENT_ID, Entra, TENANT};
use crate::blob_support::{md5_bytes, md5_file};
use crate::examples_support::{build_example, run_example, stderr, stdout};

/// Returns the result tree of a finished search, shipped with the examples.
fn result_tree() -> PathBuf {
    repo_root()
        .join("examples/data/results/B2-pathogen-E16-1N/job-7f598a7eb6aa4e53a122c2a4d85a117f")
}

/// Returns the files under `root` by relative path, with their MD5s.
fn tree_md5s(root: &Path) -> BTreeMap<String, [u8; 16]> {
    let mut files = BTreeMap::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                files.insert(relative, md5_file(&path));
            }
        }
    }
    files
}

/// Azurite with OAuth, the token service, and the variables that make the examples use
/// workload identity against them.
struct Setup {
    entra: Entra,
    azurite: Azurite,
    /// A Shared Key store on the same Azurite, for checking what the examples wrote.
    store: BlobStore,
}

impl Setup {
    async fn start() -> Self {
        let entra = Entra::start().await;
        let azurite = Azurite::start(AzuriteMode::HttpsOAuth(&entra.ca))
            .await
            .expect("Azurite must start: run `npm ci` in the repository root");
        let options = BlobOptions {
            tls: entra.tls(),
            ..crate::blob_support::options()
        };
        let auth = BlobAuth::shared_key(azurite.account_name(), azurite.account_key());
        let store = BlobStore::new(&azurite.blob_endpoint(), auth, options).unwrap();
        for container in ["queries", "results"] {
            store.create_container_if_missing(container).await.unwrap();
        }
        Self {
            entra,
            azurite,
            store,
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ELB_STORAGE_URL", self.azurite.blob_endpoint()),
            ("ELB_CREDENTIALS", "workload-identity".to_owned()),
            ("AZURE_CLIENT_ID", CLIENT_ID.to_owned()),
            ("AZURE_TENANT_ID", TENANT.to_owned()),
            ("AZURE_AUTHORITY_HOST", self.entra.server.authority_host()),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                self.entra.token_file.display().to_string(),
            ),
            (
                "SSL_CERT_FILE",
                self.entra.ca.cert_path().display().to_string(),
            ),
        ]
    }

    /// Uploads the result tree with the `upload` example to `results/<prefix>`.
    fn upload_tree(&self, prefix: &str) {
        let binary = build_example("upload");
        let tree = result_tree();
        let destination = format!("results/{prefix}");
        let output = run_example(
            &binary,
            &[tree.to_str().unwrap(), &destination],
            &self.env(),
        );
        let text = stdout(&output);
        assert!(output.status.success(), "{text}\n{}", stderr(&output));
        assert!(text.contains("(credential authorization)"), "{text}");
        assert!(text.contains("uploaded 9 files"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_directory_keeps_paths_and_content() {
    let setup = Setup::start().await;
    setup.upload_tree("run1");

    let expected = tree_md5s(&result_tree());
    let blobs = setup.store.list_blobs("results", "run1/").await.unwrap();
    let names: Vec<String> = blobs
        .iter()
        .map(|b| b.name["run1/".len()..].to_owned())
        .collect();
    let expected_names: Vec<String> = expected.keys().cloned().collect();
    assert_eq!(names, expected_names);
    for (name, md5) in &expected {
        let (content, _) = setup
            .store
            .download_bytes("results", &format!("run1/{name}"), &Default::default())
            .await
            .unwrap();
        assert_eq!(&md5_bytes(&content), md5, "{name}");
    }
    assert_eq!(setup.entra.server.request_count_for(CLIENT_ID), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_file_to_prefix() {
    let setup = Setup::start().await;
    let binary = build_example("upload");
    let file = repo_root().join("examples/data/queries/pathogen-100.fa");
    let output = run_example(
        &binary,
        &[file.to_str().unwrap(), "queries/inline"],
        &setup.env(),
    );
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    let expected_md5 = md5_file(&file);
    assert!(
        text.contains("uploaded queries/inline/pathogen-100.fa"),
        "{text}"
    );
    assert!(text.contains(&hex::encode(expected_md5)), "{text}");

    let properties = setup
        .store
        .properties("queries", "inline/pathogen-100.fa")
        .await
        .unwrap();
    assert_eq!(properties.content_md5, Some(expected_md5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_selects_by_patterns() {
    let setup = Setup::start().await;
    setup.upload_tree("run2");
    let binary = build_example("download");
    let local = tempfile::tempdir().unwrap();
    let args = [
        "results/run2",
        local.path().to_str().unwrap(),
        "--include",
        "*.out.gz;metadata/*.txt",
        "--exclude",
        "num_jobs_submitted.txt",
    ];
    let output = run_example(&binary, &args, &setup.env());
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(text.contains("downloaded 4 files"), "{text}");
    assert!(text.contains("5 left out by the patterns"), "{text}");

    let got = tree_md5s(local.path());
    let expected: BTreeMap<String, [u8; 16]> = tree_md5s(&result_tree())
        .into_iter()
        .filter(|(name, _)| {
            name.ends_with(".out.gz")
                || (name.starts_with("metadata/")
                    && name.ends_with(".txt")
                    && !name.ends_with("num_jobs_submitted.txt"))
        })
        .collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_of_empty_prefix_fails() {
    let setup = Setup::start().await;
    setup.upload_tree("run5");
    let binary = build_example("download");
    let local = tempfile::tempdir().unwrap();
    let output = run_example(
        &binary,
        &["results/NOPE", local.path().to_str().unwrap()],
        &setup.env(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(
        message.contains("error: no blobs found under results/NOPE"),
        "{message}"
    );
    assert!(
        !stdout(&output).contains("downloaded"),
        "{}",
        stdout(&output)
    );

    let output = run_example(
        &binary,
        &[
            "results/run5",
            local.path().to_str().unwrap(),
            "--include",
            "*.nothing",
        ],
        &setup.env(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(
        message.contains("error: none of the 9 blobs under results/run5 matched"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_results_matches_tree() {
    let setup = Setup::start().await;
    setup.upload_tree("run3");
    let binary = build_example("zip_results");
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("results.zip");
    let output = run_example(
        &binary,
        &["results/run3", zip.to_str().unwrap()],
        &setup.env(),
    );
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(text.contains("9 entries"), "{text}");
    assert!(text.contains("9 checked by MD5"), "{text}");

    // Python's zipfile reads the archive independently of elb and checks each CRC.
    let script = "import hashlib, json, sys, zipfile\n\
                  z = zipfile.ZipFile(sys.argv[1])\n\
                  assert z.testzip() is None\n\
                  print(json.dumps({n: hashlib.md5(z.read(n)).hexdigest() for n in z.namelist()}))";
    let python = Command::new("python3")
        .args(["-c", script, zip.to_str().unwrap()])
        .output()
        .expect("python3 runs");
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let listed: BTreeMap<String, String> = serde_json::from_slice(&python.stdout).unwrap();
    let expected: BTreeMap<String, String> = tree_md5s(&result_tree())
        .into_iter()
        .map(|(name, md5)| (name, hex::encode(md5)))
        .collect();
    assert_eq!(listed, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_of_missing_container_leaves_no_file() {
    let setup = Setup::start().await;
    let binary = build_example("zip_results");
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("results.zip");
    let output = run_example(
        &binary,
        &["absent/run", zip.to_str().unwrap()],
        &setup.env(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stderr(&output).starts_with("error: "),
        "{}",
        stderr(&output)
    );
    assert!(!zip.exists());
}

#[test]
fn blob_examples_without_storage_list_needs() {
    for (example, args) in [
        ("upload", ["file.fa", "queries"]),
        ("download", ["results/run", "out"]),
        ("zip_results", ["results/run", "out.zip"]),
    ] {
        let binary = build_example(example);
        let output = run_example(&binary, &args, &[]);
        assert_eq!(output.status.code(), Some(2), "{example}");
        let message = stderr(&output);
        assert!(
            message.contains(&format!(
                "{example}: missing configuration, so nothing was sent"
            )),
            "{message}"
        );
        assert!(message.contains("ELB_STORAGE_URL"), "{message}");
        assert!(message.contains("AZURE_STORAGE_KEY"), "{message}");
        assert!(stdout(&output).is_empty(), "{example}");
    }
}

#[test]
fn blob_examples_without_arguments_show_usage() {
    let binary = build_example("download");
    let output = run_example(&binary, &[], &[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("CONTAINER/PREFIX: the blobs to download"),
        "{message}"
    );
    assert!(message.contains("LOCAL_DIR"), "{message}");
}
