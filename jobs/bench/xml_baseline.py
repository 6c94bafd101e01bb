"""The XML bench's Python baselines, one record (`/catalog/book`) per JSON
line, as the xml_to_json transform writes it in the xmltodict mapping:

  xmltodict IN OUT REJECTS  the seed's tool (xmltodict + json.dumps), in
                            xmltodict's streaming mode (item_depth=2) so a
                            large file is not held whole;
  lxml IN OUT REJECTS       lxml's iterparse (libxml2) with the same mapping
                            written in Python, elements cleared as it goes.

Prints the counts as JSON (records_in, records_ok, records_rejected).
"""
import json
import sys


def with_xmltodict(src, out):
    import xmltodict

    n = 0

    def record(path, item):
        nonlocal n
        # The item of an element with attributes or children is the value
        # xmltodict.parse gives it (their text is inside it already).
        out.write(json.dumps({path[-1][0]: item}))
        out.write("\n")
        n += 1
        return True

    with open(src, "rb") as f:
        xmltodict.parse(f, item_depth=2, item_callback=record)
    return n


def with_lxml(src, out):
    from lxml import etree

    def value(elem):
        """xmltodict's value of an element."""
        attrs = [("@" + k, v) for k, v in elem.attrib.items()]
        text = (elem.text or "") + "".join(c.tail or "" for c in elem)
        text = text.strip()
        if not attrs and len(elem) == 0:
            return text or None
        d = dict(attrs)
        for c in elem:
            v = value(c)
            if c.tag in d:
                if isinstance(d[c.tag], list):
                    d[c.tag].append(v)
                else:
                    d[c.tag] = [d[c.tag], v]
            else:
                d[c.tag] = v
        if text:
            d["#text"] = text
        return d

    n = 0
    for _, elem in etree.iterparse(src, events=("end",), tag="book", resolve_entities=False):
        out.write(json.dumps({elem.tag: value(elem)}))
        out.write("\n")
        n += 1
        elem.clear()
        while elem.getprevious() is not None:
            del elem.getparent()[0]
    return n


def main():
    tool, src, dst, rejects = sys.argv[1:5]
    with open(dst, "w") as out, open(rejects, "w"):
        n = {"xmltodict": with_xmltodict, "lxml": with_lxml}[tool](src, out)
    print(json.dumps({"records_in": n, "records_ok": n, "records_rejected": 0}))


if __name__ == "__main__":
    main()
