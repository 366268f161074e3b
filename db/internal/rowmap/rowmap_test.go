package rowmap

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// fakeRows are rows of one int each, then err from Err.
type fakeRows struct {
	vals []int64
	i    int
	err  error
}

func (r *fakeRows) Next() bool { r.i++; return r.i <= len(r.vals) }
func (r *fakeRows) Err() error { return r.err }
func (r *fakeRows) Scan(dest ...any) error {
	if r.vals[r.i-1] < 0 {
		return errScan
	}
	*dest[0].(*int64) = r.vals[r.i-1]
	return nil
}

var (
	errScan = errors.New("bad row")
	errRows = errors.New("connection lost")
)

func scanInt(row Row) (n int64, err error) {
	err = row.Scan(&n)
	return n, err
}

func TestReaders(t *testing.T) {
	type reader func(Rows, func(Row) (int64, error)) ([]int64, error)
	readers := map[string]reader{
		"Read":       Read[int64],
		"All":        func(r Rows, s func(Row) (int64, error)) ([]int64, error) { return All(r, "list", s) },
		"AllWrapped": func(r Rows, s func(Row) (int64, error)) ([]int64, error) { return AllWrapped(r, "list", s) },
	}
	for _, tt := range []struct {
		reader  string
		rows    fakeRows
		want    []int64
		wantErr error
		wantMsg string
	}{
		{"Read", fakeRows{vals: []int64{1, 2}}, []int64{1, 2}, nil, ""},
		{"Read", fakeRows{vals: []int64{1, -1}}, nil, errScan, "bad row"},
		{"Read", fakeRows{vals: []int64{1}, err: errRows}, []int64{1}, errRows, "connection lost"},
		{"All", fakeRows{}, nil, nil, ""},
		{"All", fakeRows{vals: []int64{-1}}, nil, errScan, "list: bad row"},
		{"All", fakeRows{vals: []int64{1}, err: errRows}, []int64{1}, errRows, "connection lost"},
		{"AllWrapped", fakeRows{vals: []int64{3}}, []int64{3}, nil, ""},
		{"AllWrapped", fakeRows{vals: []int64{-1}}, nil, errScan, "list: bad row"},
		{"AllWrapped", fakeRows{vals: []int64{1}, err: errRows}, nil, errRows, "list: connection lost"},
	} {
		got, err := readers[tt.reader](&tt.rows, scanInt)
		if !reflect.DeepEqual(got, tt.want) || !errors.Is(err, tt.wantErr) || (err != nil && err.Error() != tt.wantMsg) {
			t.Errorf("%s(%+v) = %v, %v; want %v, %q", tt.reader, tt.rows, got, err, tt.want, tt.wantMsg)
		}
	}
}

func TestMillis(t *testing.T) {
	if Millis(time.Time{}) != nil || !FromMillis(nil).IsZero() {
		t.Error("the zero time is not NULL")
	}
	at := time.UnixMilli(1700000000123)
	if got := FromMillis(Millis(at)); !got.Equal(at) {
		t.Errorf("FromMillis(Millis(%v)) = %v", at, got)
	}
}

func TestGranted(t *testing.T) {
	for _, tt := range []struct {
		before string
		scopes []string
		want   string
	}{
		{"", []string{"read"}, "read"},
		{"read write", []string{"write", "admin"}, "read write admin"},
		{"read", nil, "read"},
	} {
		if got := Granted(tt.before, tt.scopes); got != tt.want {
			t.Errorf("Granted(%q, %q) = %q, want %q", tt.before, tt.scopes, got, tt.want)
		}
	}
}
