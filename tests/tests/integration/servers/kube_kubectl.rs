//! `kubectl` against the test Kubernetes API server, through a kubeconfig written by the
//! server. The tests fail when `kubectl` is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use elb_test_servers::kube::KubeApiServer;
use elb_test_servers::tls::TestCa;
use serde_json::Value;

struct Fixture {
    server: KubeApiServer,
    dir: tempfile::TempDir,
    _ca: TestCa,
}

async fn start() -> Fixture {
    let ca = TestCa::generate().unwrap();
    let server = KubeApiServer::start(&ca).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    server
        .write_kubeconfig(&dir.path().join("kubeconfig"), "default")
        .unwrap();
    Fixture {
        server,
        dir,
        _ca: ca,
    }
}

/// The output of one kubectl run.
struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Fixture {
    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs kubectl with `args` on a blocking thread, so the server keeps serving.
    async fn kubectl(&self, args: &[&str]) -> Output {
        let kubeconfig = self.kubeconfig();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || run_kubectl(&kubeconfig, &args))
            .await
            .unwrap()
    }
}

fn run_kubectl(kubeconfig: &Path, args: &[String]) -> Output {
    let output = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl must be installed (it is at /usr/bin/kubectl on the test machine)");
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

const RECORD: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: elb-job-0a1b2c3d
  labels:
    elb-job: \"true\"
    status: queued
data:
  job: '{\"job_id\": \"0a1b2c3d\", \"status\": \"queued\"}'
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_get_patch_delete() {
    let f = start().await;
    let file = f.write("record.yaml", RECORD);

    let created = f.kubectl(&["create", "-f", file.to_str().unwrap()]).await;
    assert!(created.success, "{}", created.stderr);
    assert!(
        created
            .stdout
            .contains("configmap/elb-job-0a1b2c3d created")
    );

    let generated = f
        .kubectl(&["create", "configmap", "plain", "--from-literal=key=value"])
        .await;
    assert!(generated.success, "{}", generated.stderr);

    let listed = f
        .kubectl(&["get", "configmaps", "-l", "elb-job=true", "-o", "name"])
        .await;
    assert!(listed.success, "{}", listed.stderr);
    assert_eq!(listed.stdout.trim(), "configmap/elb-job-0a1b2c3d");

    let table = f.kubectl(&["get", "configmaps"]).await;
    assert!(table.stdout.contains("NAME"), "{}", table.stdout);
    assert!(table.stdout.contains("plain"), "{}", table.stdout);

    let patch = r#"{"metadata":{"labels":{"status":"running"}}}"#;
    let patched = f
        .kubectl(&[
            "patch",
            "configmap",
            "elb-job-0a1b2c3d",
            "--type",
            "merge",
            "-p",
            patch,
        ])
        .await;
    assert!(patched.success, "{}", patched.stderr);

    let fetched = f
        .kubectl(&["get", "configmap", "elb-job-0a1b2c3d", "-o", "json"])
        .await;
    let object: Value = serde_json::from_str(&fetched.stdout).unwrap();
    assert_eq!(object["metadata"]["labels"]["status"], "running");
    assert_eq!(
        object["data"]["job"],
        r#"{"job_id": "0a1b2c3d", "status": "queued"}"#
    );
    let plain = f
        .kubectl(&["get", "configmap", "plain", "-o", "json"])
        .await;
    let plain: Value = serde_json::from_str(&plain.stdout).unwrap();
    assert_eq!(plain["data"]["key"], "value");

    let deleted = f
        .kubectl(&["delete", "configmap", "elb-job-0a1b2c3d"])
        .await;
    assert!(deleted.success, "{}", deleted.stderr);
    let missing = f.kubectl(&["get", "configmap", "elb-job-0a1b2c3d"]).await;
    assert!(!missing.success);
    assert!(missing.stderr.contains("NotFound"), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("\"elb-job-0a1b2c3d\" not found"),
        "{}",
        missing.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reports_conflicts_and_invalid() {
    let f = start().await;
    let file = f.write("record.yaml", RECORD);
    assert!(
        f.kubectl(&["create", "-f", file.to_str().unwrap()])
            .await
            .success
    );

    let again = f.kubectl(&["create", "-f", file.to_str().unwrap()]).await;
    assert!(!again.success);
    assert!(again.stderr.contains("AlreadyExists"), "{}", again.stderr);

    let stale = RECORD.replace(
        "  name: elb-job-0a1b2c3d\n",
        "  name: elb-job-0a1b2c3d\n  resourceVersion: \"1\"\n",
    );
    let stale = f.write("stale.yaml", &stale);
    let replaced = f.kubectl(&["replace", "-f", stale.to_str().unwrap()]).await;
    assert!(!replaced.success);
    assert!(replaced.stderr.contains("Conflict"), "{}", replaced.stderr);

    let invalid = f.kubectl(&["create", "configmap", "Not_Valid"]).await;
    assert!(!invalid.success);
    assert!(invalid.stderr.contains("is invalid"), "{}", invalid.stderr);
    assert!(
        invalid.stderr.contains("metadata.name"),
        "{}",
        invalid.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_watch_sees_new_object() {
    let f = start().await;
    let kubeconfig = f.kubeconfig();
    let watcher = std::thread::spawn(move || {
        let args: Vec<String> = [
            "get",
            "configmaps",
            "--watch",
            "--request-timeout=3s",
            "-o",
            "name",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        run_kubectl(&kubeconfig, &args)
    });
    // A watch that starts after the create still lists the object first, so this pause only
    // makes the live event path the likely one.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let file = f.write("record.yaml", RECORD);
    assert!(
        f.kubectl(&["create", "-f", file.to_str().unwrap()])
            .await
            .success
    );

    let output = tokio::task::spawn_blocking(move || watcher.join().unwrap())
        .await
        .unwrap();
    assert!(
        output.stdout.contains("configmap/elb-job-0a1b2c3d"),
        "stdout: {} stderr: {}",
        output.stdout,
        output.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_twice() {
    let f = start().await;
    let file = f.write("record.yaml", RECORD);
    let first = f
        .kubectl(&["apply", "--server-side", "-f", file.to_str().unwrap()])
        .await;
    assert!(first.success, "{}", first.stderr);
    let version = f.server.store().revision();
    let second = f
        .kubectl(&["apply", "--server-side", "-f", file.to_str().unwrap()])
        .await;
    assert!(second.success, "{}", second.stderr);
    assert_eq!(
        f.server.store().revision(),
        version,
        "the second apply writes nothing"
    );
}

const JOB: &str = "\
apiVersion: batch/v1
kind: Job
metadata:
  name: blastn-batch-nt-job-000-ab12cd
  labels: {app: blast, elb-job-id: job-0123456789abcdef0123456789abcdef}
spec:
  backoffLimit: 3
  template:
    metadata:
      labels: {app: blast}
    spec:
      restartPolicy: OnFailure
      containers:
      - name: blast
        image: elbacr.azurecr.io/ncbi/elb:1.4.0
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_job_status_and_cascading_delete() {
    let f = start().await;
    let file = f.write("job.yaml", JOB);
    assert!(
        f.kubectl(&["create", "-f", file.to_str().unwrap()])
            .await
            .success
    );
    for _ in 0..3 {
        f.server.controller().step().await;
    }
    let job = f
        .kubectl(&["get", "job", "blastn-batch-nt-job-000-ab12cd", "-o", "json"])
        .await;
    let job: Value = serde_json::from_str(&job.stdout).unwrap();
    assert_eq!(job["status"]["succeeded"], 1);

    let deleted = f
        .kubectl(&[
            "delete",
            "jobs",
            "-l",
            "elb-job-id=job-0123456789abcdef0123456789abcdef",
            "--cascade=foreground",
        ])
        .await;
    assert!(deleted.success, "{}", deleted.stderr);
    let pods = f.kubectl(&["get", "pods", "-o", "name"]).await;
    assert!(pods.success, "{}", pods.stderr);
    assert_eq!(pods.stdout.trim(), "");
}
