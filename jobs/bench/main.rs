//! `jobs-bench`: generates the benchmark inputs and runs our transforms
//! on them exactly as the processing stage does (same writers, checksummed
//! output).
//! Driven by jobs/bench/run.sh, which puts the other tools beside it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use batch_jobs::atomic::{preallocate, release_unused_blocks};
use batch_jobs::checksum::ChecksumWriter;
use batch_jobs::file_transform::{OutputDir, Publisher, transform_file};
use batch_jobs::safe_path::SafeRelPath;
use batch_jobs::synthetic::{Rng, ghcn_row, yelp_line};
use batch_jobs::transform::TransformSpec;
use batch_jobs::transform::csv::{CompiledRules, ValidateOptions, builtin_rule_set, validate_csv};
use batch_jobs::transform::image::synthetic::photo_jpeg;
use batch_jobs::transform::jsonl::{CalcOptions, Calculations, calculate_jsonl};
use batch_jobs::transform::xml::{XmlSpec, XmlTransform, configured_reader, xml_to_json};

const USAGE: &str = "usage: jobs-bench gen-ghcn OUT BYTES | gen-yelp OUT BYTES | gen-xml OUT BYTES | csv IN CLEAN REJECTS | jsonl IN OUT REJECTS | xml IN OUT REJECTS | csv-cpu IN | jsonl-cpu IN | xml-cpu IN | xml-scan IN | gen-photos DIR WIDTH HEIGHT COUNT | images IN_DIR OUT_DIR | images-plain IN_DIR OUT_DIR | images-decode IN_DIR OUT_DIR";

/// The XML bench's transform: the records of a books catalogue, in the
/// xmltodict mapping (so the output is byte for byte the Python tool's).
fn xml_transform() -> Result<XmlTransform, Box<dyn std::error::Error>> {
    let spec: XmlSpec = serde_json::from_str(r#"{"record_path":"/catalog/book","mapping":"xmltodict"}"#)?;
    Ok(spec.compile()?)
}

const GIVEN: &[&str] =
    &["Matthew", "Kim", "Eva", "Corets", "Randall", "Ren\u{e9}e", "Stefan", "\u{5f20}\u{4f1f}"];
const GENRES: &[&str] = &["Computer", "Fantasy", "Romance", "Horror", "Science Fiction"];

/// One record-shaped `<book>` (about 450 bytes) for `n`.
fn xml_book(out: &mut Vec<u8>, rng: &mut Rng, n: u64) -> std::io::Result<()> {
    let given = GIVEN[rng.below(GIVEN.len() as u64) as usize];
    let genre = GENRES[rng.below(GENRES.len() as u64) as usize];
    writeln!(out, "  <book id=\"bk{n}\" lang=\"en\">")?;
    writeln!(out, "    <author>Surname{}, {given}</author>", rng.below(1000))?;
    writeln!(out, "    <title>Title number {n} &amp; its sequel</title>")?;
    writeln!(out, "    <genre>{genre}</genre>")?;
    writeln!(out, "    <price currency=\"USD\">{}.{:02}</price>", rng.below(100), rng.below(100))?;
    writeln!(
        out,
        "    <publish_date>20{:02}-{:02}-{:02}</publish_date>",
        rng.below(25),
        1 + rng.below(12),
        1 + rng.below(28)
    )?;
    out.extend_from_slice(b"    <tags>");
    for t in 0..1 + rng.below(3) {
        write!(out, "<tag>t{}</tag>", t + rng.below(50))?;
    }
    out.extend_from_slice(b"</tags>\n");
    if rng.below(4) == 0 {
        out.extend_from_slice(b"    <note><![CDATA[Contains <markup> & such]]></note>\n");
    }
    writeln!(
        out,
        "    <description>An in-depth look at topic {} with XML, \"quoted\" text, and a few more words to make a paragraph.</description>",
        rng.below(10_000)
    )?;
    out.extend_from_slice(b"  </book>\n");
    Ok(())
}

/// The image bench's transform: what the seed does (224x224), filled
/// (cover and centre crop), JPEG q85; the other tools are given the same.
const IMAGE_SPEC: &str =
    r#"{"kind":"image_resize","sizes":["224x224"],"mode":"fill","format":"jpeg","quality":85}"#;

/// The main output as the processing stage opens it: checksummed, not
/// buffered (the transforms write large blocks themselves), blocks
/// reserved for the input's size and an eighth (given back at the end,
/// [`close_main`]). Not fsynced: no other tool of the bench is.
fn main_sink(path: &PathBuf, input_size: u64) -> std::io::Result<ChecksumWriter<File>> {
    let file = File::create(path)?;
    preallocate(&file, input_size + input_size / 8);
    Ok(ChecksumWriter::new(file))
}

/// Finishes the main output: its checksum, unused blocks released.
fn close_main(sink: ChecksumWriter<File>) -> std::io::Result<String> {
    let (file, _, checksum) = sink.finish();
    release_unused_blocks(&file)?;
    Ok(checksum)
}

/// The rejects output as the stage opens it: small writes, buffered.
fn rejects_sink(path: &PathBuf) -> std::io::Result<BufWriter<ChecksumWriter<File>>> {
    Ok(BufWriter::with_capacity(64 << 10, ChecksumWriter::new(File::create(path)?)))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> Result<PathBuf, Box<dyn std::error::Error>> {
        args.get(i).map(PathBuf::from).ok_or_else(|| USAGE.into())
    };
    let size_arg =
        |i: usize| -> Result<u64, Box<dyn std::error::Error>> { Ok(args.get(i).ok_or(USAGE)?.parse()?) };
    match args.first().map(String::as_str).unwrap_or("") {
        "gen-ghcn" => {
            let (out, bytes) = (arg(1)?, size_arg(2)?);
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&out)?);
            let mut written = 0u64;
            let mut rng = Rng::from_bytes(b"ghcn-bench");
            let mut line = Vec::with_capacity(64);
            let mut n = 0u64;
            while written < bytes {
                line.clear();
                ghcn_row(&mut line, &n.to_string(), 0)?;
                match rng.below(200) {
                    0 => line.splice(12..20, b"20230230".iter().copied()).for_each(drop),
                    1 => line.splice(21..25, b"TMXX".iter().copied()).for_each(drop),
                    2 => line.splice(0..2, b"u1".iter().copied()).for_each(drop),
                    3 => line.splice(26..27, b"x".iter().copied()).for_each(drop),
                    _ => {}
                }
                w.write_all(&line)?;
                written += line.len() as u64;
                n += 1;
            }
            w.flush()?;
            eprintln!("{n} rows, {written} bytes");
        }
        "gen-yelp" => {
            let (out, bytes) = (arg(1)?, size_arg(2)?);
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&out)?);
            let mut written = 0u64;
            let mut rng = Rng::from_bytes(b"yelp-bench");
            let mut line = Vec::with_capacity(512);
            let mut n = 0u64;
            while written < bytes {
                line.clear();
                match rng.below(100) {
                    0 => line.extend_from_slice(b"{\"business_id\": \"broken\", \"stars\": 4.0\n"),
                    1 => line.extend_from_slice(b"{\"business_id\": \"nostars\", \"review_count\": 3}\n"),
                    _ => yelp_line(&mut line, &n.to_string(), 0)?,
                }
                w.write_all(&line)?;
                written += line.len() as u64;
                n += 1;
            }
            w.flush()?;
            eprintln!("{n} lines, {written} bytes");
        }
        "gen-xml" => {
            let (out, bytes) = (arg(1)?, size_arg(2)?);
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&out)?);
            let mut rng = Rng::from_bytes(b"xml-bench");
            let head = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<catalog>\n";
            w.write_all(head)?;
            let mut written = head.len() as u64;
            let mut record = Vec::with_capacity(1024);
            let mut n = 0u64;
            while written < bytes {
                record.clear();
                xml_book(&mut record, &mut rng, n)?;
                w.write_all(&record)?;
                written += record.len() as u64;
                n += 1;
            }
            w.write_all(b"</catalog>\n")?;
            w.flush()?;
            eprintln!("{n} records, {written} bytes");
        }
        "xml" => {
            let (input, out, rejects) = (arg(1)?, arg(2)?, arg(3)?);
            let t = xml_transform()?;
            let size = std::fs::metadata(&input)?.len();
            let started = Instant::now();
            let mut o = main_sink(&out, size)?;
            let mut r = rejects_sink(&rejects)?;
            let stats = xml_to_json(&t, File::open(&input)?, &mut o, &mut r)?;
            let checksum = close_main(o)?;
            let (_, _, rejects_checksum) = r.into_inner().map_err(|e| e.into_error())?.finish();
            eprintln!("crc64nvme out {checksum} rejects {rejects_checksum}");
            report("xml", size, started, stats.records_in, stats.records_out, stats.rejects.records_rejected);
        }
        "xml-cpu" => {
            let input = std::fs::read(arg(1)?)?;
            let t = xml_transform()?;
            let mut best = f64::MAX;
            for _ in 0..5 {
                let started = Instant::now();
                let mut o = ChecksumWriter::new(std::io::sink());
                let mut r = BufWriter::with_capacity(64 << 10, ChecksumWriter::new(std::io::sink()));
                xml_to_json(&t, &input[..], &mut o, &mut r)?;
                best = best.min(started.elapsed().as_secs_f64());
            }
            println!("xml-cpu {:.3} s, {:.0} MB/s", best, input.len() as f64 / 1e6 / best);
        }
        "xml-scan" => {
            // The parser alone: quick-xml's events over the same bytes, as
            // the transform configures it, with nothing done with them.
            // The floor under xml-cpu (as the `dd` copy is under the
            // whole run), measured the same way (best of five).
            let input = std::fs::read(arg(1)?)?;
            let mut best = f64::MAX;
            let mut events = 0u64;
            for _ in 0..5 {
                let started = Instant::now();
                let mut reader = configured_reader(&input);
                events = 0;
                loop {
                    match reader.read_event()? {
                        quick_xml::events::Event::Eof => break,
                        event => {
                            std::hint::black_box(&event);
                            events += 1;
                        }
                    }
                }
                best = best.min(started.elapsed().as_secs_f64());
            }
            println!("xml-scan {:.3} s, {:.0} MB/s, {events} events", best, input.len() as f64 / 1e6 / best);
        }
        "csv" => {
            let (input, clean, rejects) = (arg(1)?, arg(2)?, arg(3)?);
            let rules = CompiledRules::compile(&builtin_rule_set("ghcn-daily")?)?;
            let size = std::fs::metadata(&input)?.len();
            let started = Instant::now();
            let mut c = main_sink(&clean, size)?;
            let mut r = rejects_sink(&rejects)?;
            let stats =
                validate_csv(&rules, ValidateOptions::default(), File::open(&input)?, &mut c, &mut r)?;
            let checksum = close_main(c)?;
            let (_, _, rejects_checksum) = r.into_inner().map_err(|e| e.into_error())?.finish();
            eprintln!("crc64nvme clean {checksum} rejects {rejects_checksum}");
            report(
                "csv",
                size,
                started,
                stats.records_in,
                stats.records_clean,
                stats.rejects.records_rejected,
            );
        }
        "csv-cpu" | "jsonl-cpu" => {
            // The transform alone: input from memory, outputs discarded
            // (checksummed), best of 5. Separates our CPU cost from the
            // kernel's I/O cost when tuning.
            let input = std::fs::read(arg(1)?)?;
            let rules = CompiledRules::compile(&builtin_rule_set("ghcn-daily")?)?;
            let calc = Calculations::parse(&["review_score = stars * review_count".to_string()])?;
            let mut best = f64::MAX;
            for _ in 0..5 {
                let started = Instant::now();
                let mut c = ChecksumWriter::new(std::io::sink());
                let mut r = BufWriter::with_capacity(64 << 10, ChecksumWriter::new(std::io::sink()));
                if args[0] == "csv-cpu" {
                    validate_csv(&rules, ValidateOptions::default(), &input[..], &mut c, &mut r)?;
                } else {
                    calculate_jsonl(&calc, CalcOptions::default(), &input[..], &mut c, &mut r)?;
                }
                best = best.min(started.elapsed().as_secs_f64());
            }
            println!("{} {:.3} s, {:.0} MB/s", args[0], best, input.len() as f64 / 1e6 / best);
        }
        "gen-photos" => {
            // COUNT photo-like JPEGs (q90, as a camera writes) of WIDTHxHEIGHT.
            let (dir, width, height, count) = (arg(1)?, size_arg(2)?, size_arg(3)?, size_arg(4)?);
            std::fs::create_dir_all(&dir)?;
            for i in 0..count {
                let seed = format!("photo-{width}x{height}-{i}");
                let jpeg = photo_jpeg(u32::try_from(width)?, u32::try_from(height)?, seed.as_bytes(), 90)?;
                std::fs::write(dir.join(format!("{i:03}.jpg")), jpeg)?;
            }
        }
        "images" | "images-plain" | "images-decode" => {
            // Every file of IN_DIR, one after another on this thread.
            // `images` runs the stage's own per-file function (atomic,
            // fsynced outputs, stats and rejects files beside each);
            // `images-plain` writes just the JPEG with a plain write, as
            // the Python tools do, to show the transform's own cost;
            // `images-decode` only reads and decodes each file as the
            // transform does (libjpeg-turbo at the DCT scale the sizes
            // need), the floor under the other two.
            let (input, out) = (arg(1)?, arg(2)?);
            let spec: TransformSpec = serde_json::from_str(IMAGE_SPEC)?;
            let compiled = spec.compile()?;
            let plan = match &compiled {
                batch_jobs::transform::CompiledTransform::Image(plan) => plan.clone(),
                _ => return Err("IMAGE_SPEC is not an image transform".into()),
            };
            std::fs::create_dir_all(&out)?;
            let mut names: Vec<String> = std::fs::read_dir(&input)?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, _>>()?;
            names.sort();
            let (started, cpu_started) = (Instant::now(), cpu_seconds());
            let dir = OutputDir::new(&out, "");
            // Published in the processing stage's batches, and all of
            // them before the clock stops, as the stage does before its
            // done marker.
            let mut publisher = Publisher::new(Publisher::STAGE_FILES);
            let (mut ok, mut rejected, mut bytes) = (0u64, 0u64, 0u64);
            for name in &names {
                let path = input.join(name);
                bytes += std::fs::metadata(&path)?.len();
                if args[0] == "images-decode" {
                    let input = std::fs::read(&path)?;
                    match batch_jobs::transform::image::decode::decode(&input, &plan) {
                        Ok(decoded) => {
                            std::hint::black_box(&decoded.pixels);
                            ok += 1;
                        }
                        Err(_) => rejected += 1,
                    }
                } else if args[0] == "images" {
                    let rel = SafeRelPath::new("input", name)?;
                    let outcome = transform_file(&compiled, spec.kind(), &path, &rel, &dir, &mut publisher)?;
                    ok += outcome.records_out;
                    rejected += outcome.records_rejected;
                } else {
                    let file = File::open(&path)?;
                    let size = file.metadata()?.len();
                    let input = batch_jobs::transform::image::read_input(file, plan.max_input_bytes, size)?;
                    let (stats, _) = batch_jobs::transform::image::run(&plan, input, |file, jpeg| {
                        let target = out.join(format!("{name}.{file}"));
                        std::fs::write(&target, jpeg).map(|()| target.display().to_string())
                    })?;
                    ok += stats.records_out;
                    rejected += stats.rejects.records_rejected;
                }
            }
            publisher.finish()?;
            let (secs, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu_started);
            println!(
                "{{\"tool\":\"{}\",\"bytes\":{bytes},\"seconds\":{secs:.3},\"cpu_s\":{cpu:.3},\"records_in\":{},\"records_ok\":{ok},\"records_rejected\":{rejected}}}",
                args[0],
                names.len()
            );
        }
        "jsonl" => {
            let (input, out, rejects) = (arg(1)?, arg(2)?, arg(3)?);
            let calc = Calculations::parse(&["review_score = stars * review_count".to_string()])?;
            let size = std::fs::metadata(&input)?.len();
            let started = Instant::now();
            let mut o = main_sink(&out, size)?;
            let mut r = rejects_sink(&rejects)?;
            let stats = calculate_jsonl(&calc, CalcOptions::default(), File::open(&input)?, &mut o, &mut r)?;
            let checksum = close_main(o)?;
            let (_, _, rejects_checksum) = r.into_inner().map_err(|e| e.into_error())?.finish();
            eprintln!("crc64nvme out {checksum} rejects {rejects_checksum}");
            report(
                "jsonl",
                size,
                started,
                stats.records_in,
                stats.records_out,
                stats.rejects.records_rejected,
            );
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}

/// CPU time of this process so far (user + system, all threads): the
/// image loop's own cost, comparable with the Python tools' process_time
/// (which leaves out the interpreter's start).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes the struct it is given and nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn report(what: &str, size: u64, started: Instant, records: u64, ok: u64, rejected: u64) {
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"tool\":\"ours\",\"work\":\"{what}\",\"bytes\":{size},\"seconds\":{secs:.3},\"mb_per_s\":{:.0},\"records_in\":{records},\"records_ok\":{ok},\"records_rejected\":{rejected}}}",
        size as f64 / 1e6 / secs
    );
}
