#!/usr/bin/env python3
"""Turn pxed's manual pages, written in a small subset of Markdown, into
man(7) roff.  Standard library only, so building the Debian package needs
no document converter.

    md2man.py [--version V] [--date YYYY-MM-DD] [--include FILE] IN.md > OUT.N

The subset (what docs/*.md use, nothing more):
  # name(N)              the title line, first line of the file
  ## SECTION, ### Sub    .SH, .SS
  paragraphs             lines up to a blank line
  - item / 1. item       lists; continuation lines indented by two or more
  4-space indented       a literal block
  | a | b |              a table (the second line |---|---| is skipped): tbl(1)
  `code` **bold** *it*   inline: code and bold in bold, italic underlined
  {{include}}            on a line of its own: the --include file, literally

Anything else is an error (exit 1 naming the line), so a page never
renders with stray Markdown in it.
"""
import argparse
import datetime
import os
import re
import sys

SECTION_TITLES = {"1": "User Commands", "5": "File Formats", "8": "System Administration"}


def escape(text):
    """Roff-escape plain text: backslashes, and a leading . or ' (which
    would start a request)."""
    text = text.replace("\\", "\\e")
    return text


def inline(text, breaks=False):
    """Markdown inline markup to roff font changes, escaping the rest."""
    out = []
    pos = 0
    pattern = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*")
    for m in pattern.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m.group(1) is not None:
            # Literal text: hyphens become minus signs, so options copied
            # from the page work in a shell.
            # In a narrow table cell a long query string or path may break
            # after & / | (\\: is a break point that prints nothing).
            code = escape(m.group(1)).replace("-", "\\-")
            if breaks:
                code = code.replace("&", "&\\:").replace("/", "/\\:").replace("|", "|\\:")
            out.append("\\fB" + code + "\\fR")
        elif m.group(2) is not None:
            out.append("\\fB" + escape(m.group(2)) + "\\fR")
        else:
            out.append("\\fI" + escape(m.group(3)) + "\\fR")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def line_out(text):
    """A text line that cannot be taken for a request."""
    if text.startswith((".", "'")):
        return "\\&" + text
    return text


def split_row(line):
    """Cells of a table row; a | inside `code` is text, not a border."""
    cells, cur, in_code = [], "", False
    for ch in line.strip().strip("|"):
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
    cells.append(cur.strip())
    return cells


class Converter:
    def __init__(self, name, args):
        self.name = name
        self.args = args
        self.out = []
        self.section = None

    def fail(self, lineno, why):
        sys.exit("%s:%d: %s" % (self.name, lineno, why))

    def emit(self, s):
        self.out.append(s)

    def text(self, s):
        # Inline markup may span lines of a paragraph: convert it whole.
        for part in inline(s).split("\n"):
            self.emit(line_out(part))

    def literal(self, lines):
        self.emit(".PP")
        self.emit(".RS 2")
        self.emit(".nf")
        for l in lines:
            self.emit(line_out(escape(l)) if l else "")
        self.emit(".fi")
        self.emit(".RE")

    def table(self, rows, lineno):
        head = split_row(rows[0])
        if len(rows) < 2 or not re.fullmatch(r"\|?(\s*:?-+:?\s*\|)+\s*:?-*:?\s*\|?", rows[1].strip()):
            self.fail(lineno, "a table needs a |---| line under its head")
        body = [split_row(r) for r in rows[2:]]
        n = len(head)
        for i, r in enumerate(body):
            if len(r) != n:
                self.fail(lineno + 2 + i, "table row has %d cells, head has %d" % (len(r), n))
        # Left-aligned, not justified: narrow cells would otherwise be
        # stretched (and troff warns that it cannot adjust them).
        self.emit(".PP")
        self.emit(".ad l")
        self.emit(".nh")
        self.emit(".TS")
        self.emit("allbox tab(\x1f);")
        self.emit(" ".join(["lb"] * n))
        self.emit(" ".join(["l"] * (n - 1) + ["lx"]) + ".")
        self.emit("\x1f".join(inline(c) for c in head))
        for r in body:
            # The last column is a text block: it wraps to the page width.
            cells = [inline(c) for c in r[:-1]] + ["T{\n" + line_out(inline(r[-1], True)) + "\nT}"]
            self.emit("\x1f".join(cells))
        self.emit(".TE")
        self.emit(".hy")
        self.emit(".ad")
        self.emit(".sp")

    def convert(self, lines):
        m = re.fullmatch(r"# ([A-Za-z0-9_.-]+)\((\d)\)", lines[0].rstrip()) if lines else None
        if not m:
            self.fail(1, "first line must be '# name(N)'")
        page, sect = m.group(1), m.group(2)
        date = self.args.date or datetime.datetime.fromtimestamp(
            int(os.environ.get("SOURCE_DATE_EPOCH", os.path.getmtime(self.name))),
            datetime.timezone.utc).strftime("%Y-%m-%d")
        self.emit("'\\\" t")
        self.emit(".\\\" Generated by scripts/md2man.py from %s; edit that file." % os.path.basename(self.name))
        self.emit('.TH "%s" "%s" "%s" "pxed %s" "%s"' % (page.upper(), sect, date, self.args.version,
                                                          SECTION_TITLES.get(sect, "")))
        i = 1
        n = len(lines)
        while i < n:
            l = lines[i].rstrip("\n").rstrip()
            if not l:
                i += 1
                continue
            if l.startswith("### "):
                self.emit(".SS " + inline(l[4:]))
                i += 1
            elif l.startswith("## "):
                self.section = l[3:].strip()
                self.emit(".SH " + inline(self.section))
                i += 1
            elif l.startswith("#"):
                self.fail(i + 1, "unsupported heading")
            elif l == "{{include}}":
                if not self.args.include:
                    self.fail(i + 1, "{{include}} without --include")
                with open(self.args.include, encoding="utf-8") as f:
                    self.literal([x.rstrip("\n") for x in f])
                i += 1
            elif l.startswith("    "):
                block = []
                while i < n and (lines[i].startswith("    ") or not lines[i].strip()):
                    block.append(lines[i].rstrip("\n")[4:])
                    i += 1
                while block and not block[-1]:
                    block.pop()
                self.literal(block)
            elif l.startswith("|"):
                start = i
                rows = []
                while i < n and lines[i].strip().startswith("|"):
                    rows.append(lines[i].strip())
                    i += 1
                self.table(rows, start + 1)
            elif re.match(r"(- |\d+\. )", l):
                m = re.match(r"(- |(\d+)\. )(.*)", l)
                tag = "\\(bu" if m.group(2) is None else m.group(2) + "."
                item = [m.group(3)]
                i += 1
                while i < n and lines[i].startswith("  ") and lines[i].strip():
                    item.append(lines[i].strip())
                    i += 1
                self.emit(".IP %s 4" % tag)
                self.text("\n".join(item))
            else:
                para = []
                while i < n and lines[i].strip() and not re.match(r"(#|- |\d+\. |\||    )", lines[i]):
                    para.append(lines[i].rstrip())
                    i += 1
                text = "\n".join(para)
                if self.section == "NAME":
                    # "name - what": the NAME line whatis(1) and lexgrog read.
                    self.emit(line_out(escape(text).replace(" - ", " \\- ", 1)))
                    continue
                self.emit(".PP")
                self.text(text)
        return "\n".join(self.out) + "\n"


def main():
    ap = argparse.ArgumentParser(description="pxed's Markdown subset to man(7) roff")
    ap.add_argument("--version", default="")
    ap.add_argument("--date", help="YYYY-MM-DD (default: $SOURCE_DATE_EPOCH, else the file's mtime)")
    ap.add_argument("--include", help="the file {{include}} stands for")
    ap.add_argument("input")
    args = ap.parse_args()
    with open(args.input, encoding="utf-8") as f:
        lines = f.readlines()
    sys.stdout.write(Converter(args.input, args).convert(lines))


if __name__ == "__main__":
    main()
