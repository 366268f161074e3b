package dbtest

import (
	"bytes"
	"testing"
	"time"

	"github.com/apistore/apistore/oauth"
)

// testSigningKeys: the keys that sign JWTs, their rotation and how long a
// retired key stays published.
func testSigningKeys(t *testing.T, s *suite) {
	d, again := s.open(t)
	other := again(t) // another node
	ctx := t.Context()
	ids := func(at time.Time) []string {
		t.Helper()
		keys, err := other.SigningKeys(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range keys {
			out = append(out, k.ID)
		}
		return out
	}
	equal := func(what string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: keys %v, want %v", what, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: keys %v, want %v", what, got, want)
			}
		}
	}
	if got := ids(t0); len(got) != 0 {
		t.Fatalf("a new store has signing keys %v", got)
	}
	k1 := &oauth.SigningKey{ID: "k1", Private: []byte("private one"), CreatedAt: t0}
	if err := d.AddSigningKey(ctx, k1, false); err != nil {
		t.Fatal(err)
	}
	keys, err := other.SigningKeys(ctx, t0)
	if err != nil || len(keys) != 1 || keys[0].ID != "k1" || !bytes.Equal(keys[0].Private, k1.Private) ||
		!keys[0].CreatedAt.Equal(t0) || !keys[0].RetiredAt.IsZero() {
		t.Fatalf("after adding k1: %+v, %v", keys, err)
	}
	equal("a current key, whatever its publication", ids(t0.Add(1000*time.Hour)), "k1")

	// k1 signed a token expiring at t0+2h; keeping it for an earlier time
	// does not shorten that.
	for _, until := range []time.Time{t0.Add(2 * time.Hour), t0.Add(time.Hour)} {
		if ok, err := d.KeepSigningKey(ctx, "k1", until); err != nil || !ok {
			t.Fatalf("KeepSigningKey(k1): %v, %v; want true", ok, err)
		}
	}
	if ok, err := d.KeepSigningKey(ctx, "nothing", t0); err != nil || ok {
		t.Fatalf("KeepSigningKey of an unknown key: %v, %v; want false", ok, err)
	}

	// Rotation at t0+1h: k2 is current, k1 retired but published until
	// t0+2h.
	k2 := &oauth.SigningKey{ID: "k2", Private: []byte("private two"), CreatedAt: t0.Add(time.Hour)}
	if err := other.AddSigningKey(ctx, k2, true); err != nil {
		t.Fatal(err)
	}
	keys, err = d.SigningKeys(ctx, t0.Add(time.Hour))
	if err != nil || len(keys) != 2 || keys[0].ID != "k2" || !keys[0].RetiredAt.IsZero() ||
		keys[1].ID != "k1" || !keys[1].RetiredAt.Equal(t0.Add(time.Hour)) || !keys[1].PublishedUntil.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("after the rotation: %+v, %v; want k2 current, then k1 retired at t0+1h, published until t0+2h", keys, err)
	}
	equal("k1's last token expired", ids(t0.Add(2*time.Hour)), "k2")

	// A node still signing with k1 keeps it published.
	if ok, err := d.KeepSigningKey(ctx, "k1", t0.Add(5*time.Hour)); err != nil || !ok {
		t.Fatalf("KeepSigningKey(k1) after its retirement: %v, %v", ok, err)
	}
	equal("k1 kept", ids(t0.Add(3*time.Hour)), "k2", "k1")

	// Rotation at t0+6h: k1, no longer published, is deleted; k2, which
	// signed nothing, is retired and no longer published.
	k3 := &oauth.SigningKey{ID: "k3", Private: []byte("private three"), CreatedAt: t0.Add(6 * time.Hour)}
	if err := d.AddSigningKey(ctx, k3, true); err != nil {
		t.Fatal(err)
	}
	equal("after the second rotation", ids(t0.Add(6*time.Hour)), "k3")
	if ok, err := d.KeepSigningKey(ctx, "k1", t0.Add(7*time.Hour)); err != nil || ok {
		t.Fatalf("KeepSigningKey of a deleted key: %v, %v; want false", ok, err)
	}
	if ok, err := d.KeepSigningKey(ctx, "k2", t0.Add(7*time.Hour)); err != nil || !ok {
		t.Fatalf("KeepSigningKey of a retired key not yet deleted: %v, %v; want true", ok, err)
	}
	equal("k2 kept after its retirement", ids(t0.Add(6*time.Hour)), "k3", "k2")
}
