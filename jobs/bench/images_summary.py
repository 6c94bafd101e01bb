"""Summarises the image part of a jobs bench run (measure.py's JSON lines):
per image set and tool, images per CPU-second of the image loop (each
tool's own count of its process CPU time from the first image to the
last, so Python's start and imports are left out; every tool runs on one
thread, so this is images per second per core), the process's wall time
and peak RSS, and ours against libvips and Pillow.

Usage: python3 images_summary.py RESULTS.jsonl
"""
import json
import sys


def main():
    runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    table = {}
    for run in runs:
        tool, _, work = run["label"].partition("/")
        if not work.startswith("img-") or run.get("exit") != 0:
            continue
        counts = json.loads(run["output"].splitlines()[-1])
        cpu = counts["cpu_s"]
        table.setdefault(work, {})[tool] = {
            "images": counts["records_ok"],
            "per_cpu_s": counts["records_ok"] / cpu if cpu else float("inf"),
            "wall_s": run["wall_s"],
            "rss_mb": run["peak_rss_mb"],
        }
    print("| set | tool | images | images/s/core | process wall s | peak RSS MB |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for work, tools in table.items():
        for tool, t in tools.items():
            print(f"| {work} | {tool} | {t['images']} | {t['per_cpu_s']:.1f} | {t['wall_s']:.2f} | {t['rss_mb']:.0f} |")
    print()
    # The last column is the ceiling on "ours / pillow": the decode alone
    # (libjpeg-turbo, the codec Pillow uses too) against Pillow's whole job.
    print("| set | ours / vips | ours / pillow-draft | ours / pillow | ours-plain / vips | decode only / pillow |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for work, tools in table.items():
        def ratio(a, b):
            if a in tools and b in tools:
                return f"{tools[a]['per_cpu_s'] / tools[b]['per_cpu_s']:.2f}x"
            return "-"
        print(f"| {work} | {ratio('ours', 'vips')} | {ratio('ours', 'pillow-draft')} | {ratio('ours', 'pillow')} | {ratio('ours-plain', 'vips')} | {ratio('ours-decode-only', 'pillow')} |")


if __name__ == "__main__":
    main()
