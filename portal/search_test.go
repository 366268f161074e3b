package portal_test

import (
	"slices"
	"testing"

	"github.com/apistore/apistore/portal"
)

func TestSearchWords(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"Order pizza: read the menu.", []string{"order", "pizza", "read", "the", "menu"}},
		{"PizzaShackAPI", []string{"pizza", "shack", "api", "pizzashackapi"}},
		{"APIKey", []string{"api", "key", "apikey"}},
		{"/order/{orderId}", []string{"order", "order", "id", "orderid"}},
		{"Café CAFÉ cafe\u0301", []string{"cafe", "cafe", "cafe"}},
		{"Straße", []string{"strasse"}},
		{"ＰＩＺＺＡ ２", []string{"pizza", "2"}},
		{"東京の天気", []string{"東京", "京の", "の天", "天気"}},
		{"東 API天気", []string{"東", "api", "天気"}},
		{"한국어 날씨", []string{"한국", "국어", "날씨"}},
		{"\x00 \xff * \" ' OR -", []string{"or"}},
		{"\u0301abc", []string{"abc"}},
		{"ﷺ", []string{"صلى", "الله", "عليه", "وسلم"}},
	}
	for _, tt := range tests {
		if got := portal.SearchWords(tt.text); !slices.Equal(got, tt.want) {
			t.Errorf("SearchWords(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestParseTags(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{" Payments, maps ,payments,, Wild  Life ", []string{"payments", "maps", "wild life"}, true},
		{"C#, c++, node.js, e-mail, 日本, Météo", []string{"c#", "c++", "node.js", "e-mail", "日本", "météo"}, true},
		{"bad'tag", nil, false},
		{"-dash", nil, false},
		{"a/b", nil, false},
		{"tab\there", []string{"tab here"}, true}, // spaces collapse
		{"1,2,3,4,5,6,7,8,9,10,11", nil, false},
		{"x234567890123456789012345678901234567890a", nil, false},
	}
	for _, tt := range tests {
		got, err := portal.ParseTags(tt.in)
		if (err == nil) != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("ParseTags(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestSortKey(t *testing.T) {
	keys := []string{portal.SortKey("Zebra", "v1"), portal.SortKey("apple", "v2"), portal.SortKey("apple", "v10"),
		portal.SortKey("apple pie", "v1"), portal.SortKey("Äpfel", "v1")}
	want := []string{keys[2], keys[1], keys[3], keys[0], keys[4]}
	slices.Sort(keys)
	if !slices.Equal(keys, want) {
		t.Errorf("sorted keys %q, want %q", keys, want)
	}
}
