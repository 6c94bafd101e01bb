"""polars and DuckDB, one thread each, doing the same validation /
calculation as our processing stage."""
import json
import os
import sys

tool, work, src, out, rejects, rules = sys.argv[1:7]
spec = json.load(open(rules))["schema"]["fields"]
ELEMENTS = spec[2]["constraints"]["enum"]
M, Q, S = (spec[i]["constraints"]["enum"] for i in (4, 5, 6))
NAMES = ["ID", "DATE", "ELEMENT", "DATA_VALUE", "M_FLAG", "Q_FLAG", "S_FLAG", "OBS_TIME"]

if tool == "polars":
    os.environ["POLARS_MAX_THREADS"] = "1"
    import polars as pl
    if work == "csv":
        lf = pl.scan_csv(src, has_header=False, new_columns=NAMES,
                         schema_overrides={n: pl.Utf8 for n in NAMES})
        c = pl.col
        ok = (c("ID").str.contains(r"^[A-Z]{2}[A-Z0-9]{9}$").fill_null(False)
              & c("DATE").str.strptime(pl.Date, "%Y%m%d", strict=False).is_not_null()
              & (c("DATE").str.len_bytes() == 8)
              & c("ELEMENT").is_in(ELEMENTS).fill_null(False)
              & c("DATA_VALUE").cast(pl.Int64, strict=False).is_not_null()
              & (c("M_FLAG").is_null() | c("M_FLAG").is_in(M))
              & (c("Q_FLAG").is_null() | c("Q_FLAG").is_in(Q))
              & (c("S_FLAG").is_null() | c("S_FLAG").is_in(S))
              & (c("OBS_TIME").is_null() | c("OBS_TIME").str.contains(r"^(([01][0-9]|2[0-3])[0-5][0-9]|2400)$")))
        df = lf.with_columns(ok.alias("_ok")).collect()
        df.filter(c("_ok")).drop("_ok").write_csv(out, include_header=False)
        df.filter(~c("_ok")).drop("_ok").write_csv(rejects, include_header=False)
        n, good = df.height, int(df["_ok"].sum())
    else:
        # scan_ndjson aborts on a malformed line, so lines are read as
        # text and the two fields extracted with JSON paths; the result is
        # spliced into the line as ours does.
        lf = pl.scan_csv(src, has_header=False, separator="\x1f", quote_char=None,
                         new_columns=["line"], schema={"line": pl.Utf8})
        line = pl.col("line")
        score = (line.str.json_path_match("$.stars").cast(pl.Float64, strict=False)
                 * line.str.json_path_match("$.review_count").cast(pl.Float64, strict=False))
        df = lf.with_columns(score.alias("s")).collect()
        good_df = df.filter(pl.col("s").is_not_null()).select(
            pl.concat_str([line.str.strip_suffix("}"), pl.lit(',"review_score":'),
                           pl.col("s").cast(pl.Utf8), pl.lit("}")]))
        good_df.write_csv(out, include_header=False, quote_style="never")
        n, good = df.height, good_df.height
    print(json.dumps({"records_in": n, "records_ok": good, "records_rejected": n - good}))
else:
    import duckdb
    con = duckdb.connect()
    con.execute("SET threads=1")
    if work == "csv":
        cols = ", ".join(f"'{n}': 'VARCHAR'" for n in NAMES)
        lst = lambda xs: "[" + ",".join(f"'{x}'" for x in xs) + "]"
        con.execute(f"""CREATE TEMP VIEW v AS SELECT *, (
            regexp_full_match(ID, '[A-Z]{{2}}[A-Z0-9]{{9}}')
            AND length(DATE) = 8 AND try_strptime(DATE, '%Y%m%d') IS NOT NULL
            AND list_contains({lst(ELEMENTS)}, ELEMENT)
            AND TRY_CAST(DATA_VALUE AS BIGINT) IS NOT NULL
            AND (M_FLAG IS NULL OR list_contains({lst(M)}, M_FLAG))
            AND (Q_FLAG IS NULL OR list_contains({lst(Q)}, Q_FLAG))
            AND (S_FLAG IS NULL OR list_contains({lst(S)}, S_FLAG))
            AND (OBS_TIME IS NULL OR regexp_full_match(OBS_TIME, '([01][0-9]|2[0-3])[0-5][0-9]|2400'))
            ) AS ok FROM read_csv('{src}', header=false, columns={{{cols}}})""")
        con.execute(f"CREATE TEMP TABLE t AS SELECT * FROM v")
        con.execute(f"COPY (SELECT * EXCLUDE ok FROM t WHERE ok) TO '{out}' (HEADER false)")
        con.execute(f"COPY (SELECT * EXCLUDE ok FROM t WHERE NOT ok OR ok IS NULL) TO '{rejects}' (HEADER false)")
        n, good = con.execute("SELECT count(*), count(*) FILTER (WHERE ok) FROM t").fetchone()
    else:
        con.execute(f"CREATE TEMP TABLE t AS SELECT *, stars * review_count AS review_score FROM read_json('{src}', format='newline_delimited', ignore_errors=true)")
        con.execute(f"COPY (SELECT * FROM t WHERE review_score IS NOT NULL) TO '{out}' (FORMAT json)")
        n, good = con.execute("SELECT count(*), count(review_score) FROM t").fetchone()
    print(json.dumps({"records_in": n, "records_ok": good, "records_rejected": n - good}))
