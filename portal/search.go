package portal

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Search: both stores index the words SearchWords makes of an API (SQLite
// in an FTS5 table, PostgreSQL in a tsvector) and match the words
// SearchQuery.Terms makes of what a developer typed, each as a prefix. The
// words are made here, once, so that the stores find the same APIs for the
// same text, whatever their own tokenizers would do, and so that nothing a
// user types reaches a store as query syntax.

// Sort orders of a search.
const (
	SortName   = "name"   // by name (case folded), then version
	SortNewest = "newest" // the most recently created first
)

// SearchPageSize is how many APIs a search returns when not told.
const SearchPageSize = 20

// searchMaxTerms bounds the words of a query, and searchMaxRunes the runes
// of a word (a longer one is cut: it still matches as a prefix).
const (
	searchMaxTerms = 16
	searchMaxRunes = 48
)

// SearchQuery asks a store for a page of the published APIs.
type SearchQuery struct {
	Text   string   // what the developer typed: plain words, each a prefix
	Tags   []string // the APIs must have every one of these tags
	Sort   string   // SortName (also for ""), or SortNewest
	Offset int
	Limit  int // 0: SearchPageSize
	// Tenant is the developer's tenant (0: the super tenant): the APIs
	// are its own and those other tenants share.
	Tenant int64
}

// SearchPage is a page of a search's results.
type SearchPage struct {
	APIs  []API // with their resources and tags
	Total int   // how many APIs match, on every page
}

// TagCount is a tag and how many published APIs have it.
type TagCount struct {
	Tag   string
	Count int
}

// Terms are the words of q.Text to match, each as a prefix of a word of
// an API, deduplicated and bounded.
func (q SearchQuery) Terms() []string {
	terms := SearchWords(q.Text)
	slices.Sort(terms)
	terms = slices.Compact(terms)
	if len(terms) > searchMaxTerms {
		terms = terms[:searchMaxTerms]
	}
	return terms
}

// FilterTags are q.Tags normalized and deduplicated; ok is false when one
// of them cannot be a tag, or there are too many, so that no API can match.
func (q SearchQuery) FilterTags() (tags []string, ok bool) {
	tags, err := CleanTags(q.Tags)
	return tags, err == nil
}

// Page returns q's offset and limit, made sane.
func (q SearchQuery) Page() (offset, limit int) {
	limit = q.Limit
	if limit <= 0 || limit > 100 {
		limit = SearchPageSize
	}
	return max(q.Offset, 0), limit
}

// SortKey is the key APIs are sorted by when sorted by name: the name case
// folded, so that "apple" and "Zebra" sort as a reader expects on both
// stores (which compare bytes), then the version after a byte below any
// other a name holds, so that one index orders by name, then version.
func SortKey(name, version string) string {
	return cases.Fold().String(norm.NFC.String(name)) + "\x01" + version
}

// SearchDocument is the words of an API a search looks into: its name,
// description, context, tags and resource paths.
func SearchDocument(a *API) []string {
	var b strings.Builder
	for _, s := range []string{a.Name, a.Description, a.Context, strings.Join(a.Tags, " ")} {
		b.WriteString(s)
		b.WriteByte(' ')
	}
	for _, r := range a.Resources {
		b.WriteString(r.Path)
		b.WriteByte(' ')
	}
	words := SearchWords(b.String())
	slices.Sort(words)
	return slices.Compact(words)
}

// SearchWords splits text into the words search matches: runs of letters,
// digits and marks, case folded and without diacritics (café → cafe,
// Straße → strasse); a run written in camel case gives its parts as well
// (PizzaShackAPI → pizzashackapi, pizza, shack, api). Han, kana and hangul,
// written without spaces, give each pair of neighbouring characters
// (東京の天気 → 東京, 京の, の天, 天気), and a lone character itself.
func SearchWords(text string) []string {
	var out []string
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, " ")
	}
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) }
	for run := range strings.FieldsFuncSeq(text, func(r rune) bool { return !isWord(r) }) {
		parts := camelParts(run)
		if len(parts) > 1 {
			parts = append(parts, run)
		}
		for _, p := range parts {
			out = appendWords(out, fold(p))
		}
	}
	return out
}

// camelParts splits a run at its lower-to-upper case changes and before
// the last capital of a run of capitals followed by a small letter
// (APIKey → API, Key).
func camelParts(s string) []string {
	rs := []rune(s)
	var parts []string
	start := 0
	for i := 1; i < len(rs); i++ {
		lowerUpper := unicode.IsLower(rs[i-1]) && unicode.IsUpper(rs[i])
		acronymEnd := unicode.IsUpper(rs[i-1]) && unicode.IsUpper(rs[i]) && i+1 < len(rs) && unicode.IsLower(rs[i+1])
		if lowerUpper || acronymEnd {
			parts = append(parts, string(rs[start:i]))
			start = i
		}
	}
	return append(parts, string(rs[start:]))
}

// fold case folds s and removes its diacritics.
func fold(s string) string {
	s = norm.NFKD.String(s)
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, s)
	return cases.Fold().String(norm.NFC.String(s))
}

// appendWords appends the words of a folded run: itself, or for the parts
// written in a script without spaces, their pairs of characters.
func appendWords(out []string, run string) []string {
	var plain []rune
	var cjk []rune
	flush := func() {
		if len(plain) > 0 {
			out = append(out, cut(plain))
			plain = plain[:0]
		}
		if len(cjk) == 1 {
			out = append(out, string(cjk))
		}
		for i := 0; i+1 < len(cjk); i++ {
			out = append(out, string(cjk[i:i+2]))
		}
		cjk = cjk[:0]
	}
	for _, r := range run {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) {
			flush() // folding can make a space (ﷺ) or a symbol
			continue
		}
		if unicode.IsMark(r) && len(plain) == 0 && len(cjk) == 0 {
			continue // a word does not start with a mark
		}
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) {
			if len(plain) > 0 {
				flush()
			}
			cjk = append(cjk, r)
			continue
		}
		if len(cjk) > 0 {
			flush()
		}
		plain = append(plain, r)
	}
	flush()
	return out
}

func cut(rs []rune) string {
	if len(rs) > searchMaxRunes {
		rs = rs[:searchMaxRunes]
	}
	return string(rs)
}

// Tags: an API has at most MaxTags, each a short word or two.
const (
	MaxTags      = 10
	maxTagLength = 40
)

var tagPattern = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N}\p{M} ._+#-]*$`)

// NormalizeTag returns a tag as stored: trimmed, its spaces collapsed,
// case folded; an error says why s cannot be a tag.
func NormalizeTag(s string) (string, error) {
	t := strings.Join(strings.Fields(norm.NFC.String(s)), " ")
	t = cases.Fold().String(t)
	switch {
	case t == "":
		return "", fmt.Errorf("a tag is empty")
	case utf8.RuneCountInString(t) > maxTagLength:
		return "", fmt.Errorf("the tag %q is longer than %d characters", t, maxTagLength)
	case !utf8.ValidString(t) || !tagPattern.MatchString(t):
		return "", fmt.Errorf("the tag %q may hold letters, digits, spaces and . _ + # - only, starting with a letter or digit", t)
	}
	return t, nil
}

// ParseTags reads comma-separated tags, normalized and deduplicated in the
// order given.
func ParseTags(s string) ([]string, error) {
	var tags []string
	for f := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(f) != "" {
			tags = append(tags, f)
		}
	}
	return CleanTags(tags)
}

// CleanTags normalizes and deduplicates tags, in the order given.
func CleanTags(tags []string) ([]string, error) {
	var out []string
	for _, t := range tags {
		n, err := NormalizeTag(t)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) > MaxTags {
		return nil, fmt.Errorf("give at most %d tags", MaxTags)
	}
	return out, nil
}
