// Package markdown renders the Markdown publishers write (API
// documentation pages) into HTML that is safe to show in the store.
package markdown

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// md renders CommonMark with GitHub's tables, strikethrough, autolinks and
// task lists. Without goldmark's html.WithUnsafe, raw HTML is left out and
// links with dangerous schemes (javascript:, vbscript:, data: but images)
// lose their address.
var md = goldmark.New(goldmark.WithExtensions(extension.GFM),
	goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(storeLinks{}, 100))))

// storeKey holds, in the parser's context, the path of the store the page
// is shown in.
var storeKey = parser.NewContextKey()

// storeLinks puts the page's links and images to the store (/store,
// /store/…, as a publisher writes them) in the store the page is shown
// in: a tenant's documentation links to its own store, /t/{domain}/store.
type storeLinks struct{}

func (storeLinks) Transform(doc *ast.Document, _ text.Reader, pc parser.Context) {
	store, _ := pc.Get(storeKey).(string)
	if store == "" || store == "/store" {
		return
	}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		switch n := n.(type) {
		case *ast.Link:
			n.Destination = inStore(n.Destination, store)
		case *ast.Image:
			n.Destination = inStore(n.Destination, store)
		}
		return ast.WalkContinue, nil
	})
}

// inStore is dest under store when it is a path of the store.
func inStore(dest []byte, store string) []byte {
	rest, ok := strings.CutPrefix(string(dest), "/store")
	if !ok || (rest != "" && !strings.ContainsAny(rest[:1], "/?#")) {
		return dest
	}
	return []byte(store + rest)
}

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

// Render returns the HTML of a Markdown source, sanitized, shown in the
// store at path store (/store, or a tenant's /t/{domain}/store).
func Render(source, store string) (string, error) {
	var buf bytes.Buffer
	pc := parser.NewContext()
	pc.Set(storeKey, store)
	if err := md.Convert([]byte(source), &buf, parser.WithContext(pc)); err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	return policy.Sanitize(buf.String()), nil
}
