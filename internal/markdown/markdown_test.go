package markdown_test

import (
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/markdown"
)

func TestRenderRemovesWhatCouldRunOrHide(t *testing.T) {
	tests := []struct {
		name, source string
		absent       []string // case-insensitive
		present      []string
	}{
		// Inline, the tags go and what was between them stays as text.
		{"script element", "Hello <script>alert(1)</script> world", []string{"<script", "</script"}, []string{"Hello alert(1) world"}},
		{"script block", "<script>\nalert(1)\n</script>\n\nafter", []string{"<script", "alert"}, []string{"<p>after</p>"}},
		{"event handler", `<img src="x" onerror="alert(1)">`, []string{"onerror", "alert", "<img"}, nil},
		{"event handler in markdown image", `![a](https://example.com/a.png "t\" onerror=\"alert(1)")`, []string{"onerror="}, nil},
		{"javascript link", "[click](javascript:alert(1))", []string{"javascript:", "alert(1)\""}, []string{"click"}},
		{"encoded javascript link", "[click](jAvAsCrIpT&#58;alert(1))", []string{"javascript", "href"}, []string{"click"}},
		{"javascript autolink", "<javascript:alert(1)>", []string{`href="javascript`}, nil},
		{"raw html", `<div style="position:fixed">x</div><iframe src="https://evil.example"></iframe>`, []string{"<div", "style=", "<iframe"}, nil},
		{"inline html", `a <b onclick="x()">bold</b> <a href="https://x.example" onmouseover="y()">l</a>`, []string{"onclick", "onmouseover", "<b"}, nil},
		{"form", `<form action="/store/logout"><button>go</button></form>`, []string{"<form", "<button"}, nil},
		{"style element", "<style>body{display:none}</style>\n\ntext", []string{"<style", "display"}, []string{"text"}},
		{"data link", "[x](data:text/html;base64,PHNjcmlwdD4=)", []string{"data:"}, nil},
		{"svg", `<svg onload="alert(1)"><circle/></svg>`, []string{"<svg", "onload"}, nil},
		{"markdown stays", "# Title\n\n*em* and **strong**, `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done",
			nil, []string{"<h1", "Title</h1>", "<em>em</em>", "<strong>strong</strong>", "<code>code</code>", "<table>", "<td>2</td>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := markdown.Render(tt.source, "/store")
			if err != nil {
				t.Fatal(err)
			}
			lower := strings.ToLower(got)
			for _, a := range tt.absent {
				if strings.Contains(lower, strings.ToLower(a)) {
					t.Errorf("%q renders as %q, which holds %q", tt.source, got, a)
				}
			}
			for _, p := range tt.present {
				if !strings.Contains(got, p) {
					t.Errorf("%q renders as %q, without %q", tt.source, got, p)
				}
			}
		})
	}
}

// TestRenderTenantStoreLinks: in a tenant's store, a page's links and
// images to the store are the tenant's store's; other links stay as
// written.
func TestRenderTenantStoreLinks(t *testing.T) {
	tests := []struct{ source, want string }{
		{"[the APIs](/store)", `<a href="/t/acme.com/store">the APIs</a>`},
		{"[next page](/store/apis/1#try)", `<a href="/t/acme.com/store/apis/1#try">next page</a>`},
		{"[tagged](/store?tag=maps)", `<a href="/t/acme.com/store?tag=maps">tagged</a>`},
		{"![logo](/store/static/favicon.svg)", `<img src="/t/acme.com/store/static/favicon.svg" alt="logo"`},
		{"[ref]\n\n[ref]: /store/apis/2", `<a href="/t/acme.com/store/apis/2">ref</a>`},
		{"[shop](/storefront)", `<a href="/storefront">shop</a>`},
		{"[other](https://example.com/store)", `<a href="https://example.com/store"`},
		{"[page](docs/2)", `<a href="docs/2">page</a>`},
	}
	for _, tt := range tests {
		got, err := markdown.Render(tt.source, "/t/acme.com/store")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, tt.want) {
			t.Errorf("%q renders as %q, want %q in it", tt.source, got, tt.want)
		}
	}
}

func TestRenderLinks(t *testing.T) {
	tests := []struct{ source, want string }{
		{"[docs](https://docs.example.com/a)", `<a href="https://docs.example.com/a" rel="nofollow noreferrer noopener" target="_blank">docs</a>`},
		{"<https://docs.example.com>", `<a href="https://docs.example.com" rel="nofollow noreferrer noopener" target="_blank">https://docs.example.com</a>`},
		{"[next page](/store/apis/1)", `<a href="/store/apis/1">next page</a>`},
		{"[mail](mailto:team@example.com)", `<a href="mailto:team@example.com">mail</a>`},
	}
	for _, tt := range tests {
		got, err := markdown.Render(tt.source, "/store")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, tt.want) {
			t.Errorf("%q renders as %q, want %q in it", tt.source, got, tt.want)
		}
	}
}
