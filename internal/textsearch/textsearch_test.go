package textsearch

import "testing"

// BM25Docs over documents counted once scores exactly as BM25 over the
// texts.
func TestBM25DocsMatchesBM25(t *testing.T) {
	texts := []string{"The river flooded the mill", "bread at the cafe", "the mill wheel broke", "小陈喜欢喝茶", "", "Mira's mill, Mira's river"}
	docs := make([]Doc, len(texts))
	for i, s := range texts {
		docs[i] = NewDoc(s)
	}
	for _, q := range []string{"mill river", "喝茶", "nothing here", "the"} {
		want, got := BM25(Terms(q), texts), BM25Docs(Terms(q), docs)
		for i := range want {
			if want[i] != got[i] {
				t.Errorf("query %q text %d: BM25Docs %v, BM25 %v", q, i, got[i], want[i])
			}
		}
	}
}
