package portal

import (
	"slices"
	"testing"
)

func TestPrefixesOf(t *testing.T) {
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"/pizzashack/1.0.0", []string{"/pizzashack"}},
		{"/t/acme.com/orders/1.0", []string{"/t", "/t/acme.com", "/t/acme.com/orders"}},
		{"/a//b/v1", []string{"/a", "/a/", "/a//b"}},
		{"/x", nil},
	} {
		if got := PrefixesOf(c.prefix); !slices.Equal(got, c.want) {
			t.Errorf("PrefixesOf(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}
}
