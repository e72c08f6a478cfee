/**
 * Natural-text data: the byte-level {@link io.mnemo.train.data.ByteTokenizer} (vocabulary 256),
 * {@link io.mnemo.train.data.TextCorpus} (named documents, document-level splits, deterministic
 * window sampling, whole-document segments for long-context evaluation),
 * {@link io.mnemo.train.data.CorpusLoader} for the {@code corpora/} directory that
 * {@code scripts/fetch-corpora.sh} writes, and {@link io.mnemo.train.data.RSerial}, a reader of R's
 * serialisation format used to pull public-domain novels out of Debian's R data packages.
 */
package io.mnemo.train.data;
