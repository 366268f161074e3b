// Package markdown renders the Markdown publishers write (API
// documentation pages) into HTML that is safe to show in the store.
package markdown

import (
	"bytes"
	"fmt"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// md renders CommonMark with GitHub's tables, strikethrough, autolinks and
// task lists. Without goldmark's html.WithUnsafe, raw HTML is left out and
// links with dangerous schemes (javascript:, vbscript:, data: but images)
// lose their address.
var md = goldmark.New(goldmark.WithExtensions(extension.GFM))

// policy is bluemonday's policy for user-generated content, which keeps
// formatting and drops scripts, styles, event handlers, forms and frames,
// made stricter: links to other sites open in a new tab without the
// opener, the referrer, or the store's endorsement for search engines
// (rel="nofollow noreferrer noopener"). The sanitizer runs after goldmark
// as well, so that no bug or option of the renderer can let markup through.
var policy = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.RequireNoFollowOnLinks(false)
	p.RequireNoFollowOnFullyQualifiedLinks(true)
	p.RequireNoReferrerOnFullyQualifiedLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowURLSchemes("http", "https", "mailto")
	return p
}()

// Render returns the HTML of a Markdown source, sanitized.
func Render(source string) (string, error) {
	var buf bytes.Buffer
	if err := md.Convert([]byte(source), &buf); err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	return policy.Sanitize(buf.String()), nil
}
