"""The image bench's comparison tools: every JPEG of IN_DIR filled to
224x224 (cover, centre crop, Lanczos 3) and written as JPEG q85 to
OUT_DIR, one after another on one thread; prints the counts as JSON.

  pillow        the seed's tool, seed-style: Image.open, resize, save (full
                decode, then ImageOps.fit with LANCZOS)
  pillow-draft  the same with Pillow's JPEG draft mode (DCT scaling on
                decode, what Image.thumbnail does), the fastest Pillow gets
  vips          libvips' thumbnail (shrink-on-load, lanczos3, centre crop),
                VIPS_CONCURRENCY=1 set by the caller

Usage: python3 images.py TOOL IN_DIR OUT_DIR
"""
import json
import os
import sys
import time

SIZE = (224, 224)


def pillow(src, dst, draft):
    from PIL import Image, ImageOps

    with Image.open(src) as img:
        if draft:
            # Largest DCT reduction that still covers the box (as ours).
            scale = max(SIZE[0] / img.width, SIZE[1] / img.height)
            img.draft("RGB", (int(img.width * scale + 1), int(img.height * scale + 1)))
        img = ImageOps.exif_transpose(img)
        out = ImageOps.fit(img.convert("RGB"), SIZE, Image.LANCZOS)
        out.save(dst, "JPEG", quality=85)


def vips(src, dst):
    import pyvips

    img = pyvips.Image.thumbnail(src, SIZE[0], height=SIZE[1], crop="centre")
    img.jpegsave(dst, Q=85)


def main():
    tool, in_dir, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    names = sorted(os.listdir(in_dir))
    total = sum(os.path.getsize(os.path.join(in_dir, n)) for n in names)
    # The libraries are loaded before the clock starts, as ours are.
    if tool == "vips":
        import pyvips  # noqa: F401
    else:
        from PIL import Image, ImageOps  # noqa: F401
    start, cpu_start = time.perf_counter(), time.process_time()
    ok = rejected = 0
    for name in names:
        src, dst = os.path.join(in_dir, name), os.path.join(out_dir, name)
        try:
            if tool == "vips":
                vips(src, dst)
            else:
                pillow(src, dst, tool == "pillow-draft")
            ok += 1
        except Exception as e:  # a bad image is a reject, as in ours
            print(f"{name}: {e}", file=sys.stderr)
            rejected += 1
    secs, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(json.dumps({"tool": tool, "bytes": total, "seconds": round(secs, 3), "cpu_s": round(cpu, 3),
                      "records_in": len(names), "records_ok": ok, "records_rejected": rejected}))


if __name__ == "__main__":
    main()
