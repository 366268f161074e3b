package portal

import "time"

// Kinds of documentation page.
const (
	DocHowTo     = "howto"
	DocFAQ       = "faq"
	DocChangelog = "changelog"
	DocLink      = "link" // a link to documentation elsewhere
)

// DocKinds are the kinds of documentation page, in display order.
var DocKinds = []string{DocHowTo, DocFAQ, DocChangelog, DocLink}

// DocKindName names a kind of page as readers see it.
func DocKindName(kind string) string {
	switch kind {
	case DocHowTo:
		return "How-to"
	case DocFAQ:
		return "FAQ"
	case DocChangelog:
		return "Changelog"
	case DocLink:
		return "External documentation"
	}
	return kind
}

// Doc is a documentation page of an API, written by its publishers: a page
// in Markdown, or a link to documentation elsewhere.
type Doc struct {
	ID        int64
	APIID     int64
	Kind      string // one of DocKinds
	Title     string
	Markdown  string // the page's source; empty for a link
	URL       string // a link's address; empty for a page
	UpdatedAt time.Time
}
