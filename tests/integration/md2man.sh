#!/bin/bash
# scripts/md2man.py, the converter of our manual pages: every construct of
# its Markdown subset becomes the roff expected, the result renders with
# no groff warning and no Markdown left, a text line starting with . or '
# cannot become a request, and what it does not support is refused with
# FILE:LINE instead of being rendered wrong.
. "$(dirname "$0")/../lib.sh"
command -v groff >/dev/null || skip "needs groff"
MD2MAN=$ROOT/scripts/md2man.py

cat >"$TMP/t.7.md" <<'MD'
# demo(7)

## NAME
demo - a page with every construct

## SYNOPSIS
`demo [-x] FILE`

## DESCRIPTION
A paragraph with `code -x`, **bold** and *italic*, a backslash \ and a
`code span
across lines`.
.starts with a dot, 'starts with a quote.

### Sub section
- first item, continued
  on a second line
- second item

1. one
2. two

    literal  block
    .not a request

| port | what |
|---|---|
| UDP 67 | DHCP `a|b` |
| TCP 8080 | HTTP |

{{include}}
MD
printf '[pxe]\nIsActive = yes\n' >"$TMP/inc.conf"
SOURCE_DATE_EPOCH=0 python3 "$MD2MAN" --version 9.9 --include "$TMP/inc.conf" "$TMP/t.7.md" >"$TMP/t.7" ||
	fail "conversion failed"
for want in '^\.TH "DEMO" "7" "1970-01-01" "pxed 9\.9" ""$' \
	'^demo \\- a page with every construct$' '^\.SH DESCRIPTION$' '^\.SS Sub section$' \
	'\\fBcode \\-x\\fR, \\fBbold\\fR and \\fIitalic\\fR, a backslash \\e and a$' \
	'^\\fBcode span$' '^across lines\\fR\.$' \
	"^\\\\&\\.starts with a dot, 'starts with a quote\\.$" \
	'^\.IP \\\(bu 4$' '^on a second line$' '^\.IP 2\. 4$' '^\.nf$' '^literal  block$' '^\\&\.not a request$' \
	'^\.TS$' '^DHCP \\fBa\|\\:b\\fR$' '^IsActive = yes$'; do
	assert_grep "$want" "$TMP/t.7" "roff lacks /$want/"
done
LC_ALL=C.UTF-8 groff -t -man -Tutf8 -ww -z "$TMP/t.7" 2>"$TMP/groff.log"
[ -s "$TMP/groff.log" ] && { cat "$TMP/groff.log" >&2; fail "groff warnings"; }
MANWIDTH=80 man -l "$TMP/t.7" >"$TMP/t.txt" 2>/dev/null || fail "man -l"
grep -qE '`|\*\*|\\f|^ *#' "$TMP/t.txt" && fail "Markdown or roff left: $(grep -E '`|\*\*|\\f|^ *#' "$TMP/t.txt")"
assert_grep "lines\.  \.starts with a dot, 'starts" "$TMP/t.txt" "the line starting with a dot was eaten"
assert_grep 'UDP 67 +│ DHCP a\|b' "$TMP/t.txt" "table cell lost"
pass "every construct converted; renders clean"

bad() { # WHAT EXPECTED-ERROR: convert $TMP/bad.md, expect exit 1 and the message
	python3 "$MD2MAN" "$TMP/bad.md" >/dev/null 2>"$TMP/err" && fail "$1: accepted"
	assert_grep "$2" "$TMP/err" "$1: wrong message: $(cat "$TMP/err")"
}
printf 'no title\n' >"$TMP/bad.md"
bad "no title" "bad.md:1: first line must be"
printf '# x(1)\n\n#### deep\n' >"$TMP/bad.md"
bad "deep heading" "bad.md:3: unsupported heading"
printf '# x(1)\n\n| a | b |\n|---|---|\n| 1 |\n' >"$TMP/bad.md"
bad "short row" "bad.md:5: table row has 1 cells, head has 2"
printf '# x(1)\n\n| a | b |\n| 1 | 2 |\n' >"$TMP/bad.md"
bad "no rule" "bad.md:3: a table needs"
pass "unsupported input refused with FILE:LINE"

for page in pxed.8 pxectl.1; do
	python3 "$MD2MAN" "$ROOT/docs/$page.md" >"$TMP/$page" || fail "docs/$page.md does not convert"
	LC_ALL=C.UTF-8 groff -t -man -Tutf8 -ww -z "$TMP/$page" 2>"$TMP/groff.log"
	[ -s "$TMP/groff.log" ] && { cat "$TMP/groff.log" >&2; fail "groff warns on $page"; }
done
python3 "$MD2MAN" --include "$ROOT/docs/pxed.conf.example" "$ROOT/docs/pxed.conf.5.md" >"$TMP/pxed.conf.5" ||
	fail "docs/pxed.conf.5.md does not convert"
pass "docs/pxed.8.md, docs/pxectl.1.md and docs/pxed.conf.5.md convert with no groff warning"
