//! `image_resize` through the processing binary and `batch-transform`:
//! a node holding good photos and hostile files (empty, truncated, a
//! decompression bomb, text named .jpg, a PNG named .jpg) finishes with
//! every image accounted for (records in = out + rejected), outputs under
//! `results/<name>/<WxH>.jpg`, and the two commands write the same bytes.
#![cfg(feature = "aws")]

mod processing_node;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use batch_jobs::layout::{DoneMarker, Stage};
use batch_jobs::transform::TransformSpec;
use batch_jobs::transform::image::synthetic::{photo_jpeg, png_bomb};
use image::ImageEncoder;

const SPEC: &str = r#"{"kind":"image_resize","sizes":["224x224","64x48"],"quality":85}"#;

/// The inputs: (name, bytes, rejected by rule).
fn inputs() -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
    let photo = photo_jpeg(800, 600, b"a", 90).unwrap();
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&[90u8; 40 * 30 * 3], 40, 30, image::ExtendedColorType::Rgb8)
        .unwrap();
    vec![
        ("a.jpg", photo.clone(), None),
        ("b.jpeg", photo_jpeg(300, 500, b"b", 80).unwrap(), None),
        ("png-named.jpg", png, None),
        ("empty.jpg", Vec::new(), Some("empty")),
        ("truncated.jpg", photo[..photo.len() / 3].to_vec(), Some("corrupt")),
        ("bomb.png", png_bomb(100_000, 100_000, 1000), Some("tooManyPixels")),
        ("notes.jpg", b"these are not pixels\n".to_vec(), Some("unsupportedFormat")),
    ]
}

fn processing_stage(efs: &Path) -> (Output, PathBuf, DoneMarker) {
    let spec: TransformSpec = serde_json::from_str(SPEC).unwrap();
    let files = inputs();
    let named: Vec<(&str, &[u8])> = files.iter().map(|(name, bytes, _)| (*name, bytes.as_slice())).collect();
    let (out, node) = processing_node::run_processing(efs, "run-img", spec, &named);
    let done = node
        .read_done(Stage::Processing)
        .unwrap_or_else(|e| panic!("no processing marker ({e:?}): {}", String::from_utf8_lossy(&out.stderr)));
    (out, node.results_dir(), done)
}

#[test]
fn every_image_is_resized_or_rejected_and_batch_transform_writes_the_same() {
    let efs = tempfile::tempdir().unwrap();
    let (stage, results, done) = processing_stage(efs.path());
    assert_eq!(stage.status.code(), Some(0), "{}", String::from_utf8_lossy(&stage.stderr));
    let inputs = inputs();
    let rejected = inputs.iter().filter(|i| i.2.is_some()).count() as u64;
    assert_eq!((done.records_in, done.records_out, done.records_rejected), (7, 7 - rejected, rejected));

    let photos = &results;
    for (name, _, rule) in &inputs {
        let stats: serde_json::Value =
            serde_json::from_slice(&std::fs::read(photos.join(format!("{name}.stats.json"))).unwrap())
                .unwrap();
        assert_eq!(stats["transform"], "image_resize");
        assert_eq!(stats["input"], name.to_string());
        let rejects = std::fs::read_to_string(photos.join(format!("{name}.rejects.jsonl"))).unwrap();
        match rule {
            None => {
                assert_eq!(rejects, "", "{name}");
                assert_eq!(stats["records_out"], 1, "{name}");
                let outputs = stats["outputs"].as_array().unwrap();
                assert_eq!(outputs.len(), 2, "{name}");
                for (output, (w, h)) in outputs.iter().zip([(224, 224), (64, 48)]) {
                    let path = format!("{name}/{w}x{h}.jpg");
                    assert_eq!(output["path"], path);
                    let bytes = std::fs::read(results.join(&path)).unwrap();
                    assert_eq!(output["bytes"], bytes.len());
                    let image =
                        image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).unwrap();
                    assert_eq!((image.width(), image.height()), (w, h), "{path}");
                    let entry = done.files.iter().find(|f| f.path == format!("results/{path}"));
                    assert_eq!(entry.map(|f| f.bytes), Some(bytes.len() as u64), "{path} in the marker");
                }
            }
            Some(rule) => {
                let line: serde_json::Value = serde_json::from_str(rejects.trim_end()).unwrap();
                assert_eq!(line["rule"], *rule, "{name}: {rejects}");
                assert_eq!(line["record"], name.to_string());
                assert_eq!(stats["records_rejected"], 1, "{name}");
                assert!(stats["error"].as_str().unwrap().starts_with(rule), "{name}: {}", stats["error"]);
                assert!(!photos.join(name).exists(), "{name}: a rejected image has no outputs");
            }
        }
    }
    let png_named = std::fs::read_to_string(photos.join("png-named.jpg.stats.json")).unwrap();
    assert!(png_named.contains("\"format\": \"png\""), "sniffed from the content: {png_named}");

    // batch-transform on the same files: the same bytes, file for file.
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("out");
    let paths: Vec<PathBuf> = inputs
        .iter()
        .map(|(name, bytes, _)| {
            let path = local.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    let cli = Command::new(env!("CARGO_BIN_EXE_batch-transform"))
        .args(["--transform", SPEC, "--out"])
        .arg(&out)
        .args(&paths)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(cli.status.code(), Some(0), "{}", String::from_utf8_lossy(&cli.stderr));
    let stdout = String::from_utf8(cli.stdout).unwrap();
    assert!(stdout.ends_with("total: records_in=7 records_out=3 records_rejected=4\n"), "{stdout}");
    assert!(stdout.contains("bomb.png: records_in=1 records_out=0 records_rejected=1\n"), "{stdout}");
    for (name, _, rule) in &inputs {
        let mut files = vec![format!("{name}.rejects.jsonl"), format!("{name}.stats.json")];
        if rule.is_none() {
            files.extend([format!("{name}/224x224.jpg"), format!("{name}/64x48.jpg")]);
        }
        for file in files {
            assert_eq!(
                std::fs::read(out.join(&file)).unwrap(),
                std::fs::read(photos.join(&file)).unwrap(),
                "{file} differs between batch-transform and the stage"
            );
        }
    }
}

#[test]
fn a_bad_spec_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("a.jpg");
    std::fs::write(&input, photo_jpeg(16, 16, b"x", 80).unwrap()).unwrap();
    let out = dir.path().join("out");
    for (spec, says) in [
        (r#"{"kind":"image_resize","sizes":["224"]}"#, "transform.sizes[0]: \"224\" is not WIDTHxHEIGHT"),
        (r#"{"kind":"image_resize","sizes":["8x8"],"mode":"stretch"}"#, "transform.mode"),
        (r#"{"kind":"image_resize","sizes":["8x8"],"colour":"red"}"#, "unknown field `colour`"),
    ] {
        let cli = Command::new(env!("CARGO_BIN_EXE_batch-transform"))
            .args(["--transform", spec, "--out"])
            .arg(&out)
            .arg(&input)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&cli.stderr);
        assert_eq!(cli.status.code(), Some(78), "{spec}: {stderr}");
        assert!(stderr.contains(says), "{spec}: expected {says:?} in {stderr}");
        assert!(!out.exists());
    }
}
