package dbtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// partitionWorld is a store with a CORP user store: bob is CORP/bob, alice
// a primary user; each owns an application.
type partitionWorld struct {
	alice, bob       *portal.User
	aliceKey, bobKey fixture.Key
}

func buildPartitions(t *testing.T, d db.Store) *partitionWorld {
	t.Helper()
	ctx := t.Context()
	us := &portal.UserStore{Domain: "CORP", URL: "ldap://127.0.0.1:389", BindDN: "cn=apistore,dc=example,dc=org",
		BindPassword: "bind-secret", UserSearchBase: "ou=people,dc=example,dc=org", UserFilter: "(objectClass=person)",
		UserAttribute: "uid", GroupSearchBase: "ou=groups,dc=example,dc=org"}
	if err := d.CreateUserStore(ctx, us); err != nil {
		t.Fatal(err)
	}
	bob, err := d.UpsertStoreUser(ctx, us.ID, "CORP/bob", []string{"subscriber"})
	if err != nil {
		t.Fatal(err)
	}
	w := &partitionWorld{alice: user(t, d, "alice", "subscriber"), bob: bob}
	w.aliceKey, _ = fixture.App(t, d, w.alice, "AliceApp")
	w.bobKey, _ = fixture.App(t, d, w.bob, "BobApp")
	return w
}

var corpA = []oauth.Partition{{Domain: "CORP", Name: "a"}}

// partitioned sets the token partitioning of d.
func partitioned(t *testing.T, d db.Store, ps []oauth.Partition) {
	t.Helper()
	if err := d.PartitionTokens(t.Context(), ps); err != nil {
		t.Fatalf("PartitionTokens(%v): %v", ps, err)
	}
	select {
	case err := <-d.Failed():
		t.Fatalf("PartitionTokens(%v): the store failed: %v", ps, err)
	default:
	}
}

// rows counts the rows of a table, and of those of a user.
func rows(t *testing.T, d db.Store, table string, u *portal.User) (all, users int64) {
	t.Helper()
	return fixture.Count(t, d, "SELECT count(*) FROM "+table),
		fixture.Count(t, d, fmt.Sprintf("SELECT count(*) FROM %s WHERE user_id = %d", table, u.ID))
}

// wantRows checks where the tokens of bob (CORP/bob) and the others are.
func wantRows(t *testing.T, d db.Store, w *partitionWorld, when string, table string, inTable, bobsInTable, inDefault, bobsInDefault int64) {
	t.Helper()
	if table != "" {
		if all, bobs := rows(t, d, table, w.bob); all != inTable || bobs != bobsInTable {
			t.Errorf("%s: %s holds %d tokens, %d of them bob's; want %d, %d", when, table, all, bobs, inTable, bobsInTable)
		}
	}
	if all, bobs := rows(t, d, "tokens", w.bob); all != inDefault || bobs != bobsInDefault {
		t.Errorf("%s: tokens holds %d tokens, %d of them bob's; want %d, %d", when, all, bobs, inDefault, bobsInDefault)
	}
}

// wantForwards checks how many unmarked tokens' hashes token_forwards holds.
func wantForwards(t *testing.T, d db.Store, when string, want int64) {
	t.Helper()
	if n := fixture.Count(t, d, "SELECT count(*) FROM token_forwards"); n != want {
		t.Errorf("%s: %d forwards; want %d", when, n, want)
	}
}

// in is ctx for a token of partition p.
func in(t *testing.T, p string) context.Context { return oauth.InPartition(t.Context(), p) }

// wantLive checks that the access token of tok is found, live, in partition
// p (looked up as its strings name it, marked), and reported in want.
func wantLive(t *testing.T, d db.Store, what string, tok *oauth.Token, marked, want string) {
	t.Helper()
	info, err := d.AccessToken(in(t, marked), tok.AccessHash)
	if err != nil || info.Revoked || info.Partition != want {
		t.Errorf("%s: %+v, %v; want live, in partition %q", what, info, err, want)
		return
	}
	if tok.HasRefresh() {
		rt, err := d.RefreshToken(in(t, marked), tok.RefreshHash)
		if err != nil || rt.AccessHash != tok.AccessHash || rt.Partition != want {
			t.Errorf("%s's refresh token: %+v, %v; want found in partition %q", what, rt, err, want)
		}
		ri, err := d.RefreshTokenInfo(in(t, marked), tok.RefreshHash)
		if err != nil || ri.AccessHash != tok.AccessHash || ri.Partition != want {
			t.Errorf("%s's refresh token info: %+v, %v; want found in partition %q", what, ri, err, want)
		}
	}
}

// issuedCount is how many tokens TokenCounts says were issued in the hour
// of t0.
func issuedCount(t *testing.T, d db.Store) (issued, active int64) {
	t.Helper()
	hour := t0.Truncate(time.Hour)
	counts, active, err := d.TokenCounts(t.Context(), portal.Hour, hour, hour.Add(2*time.Hour), t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range counts {
		issued += c.Count
	}
	return issued, active
}

func testPartitions(t *testing.T, s *suite) {
	t.Run("a partitioned domain's tokens are found in its partition, and there only", func(t *testing.T) {
		d, again := s.open(t)
		w := buildPartitions(t, d)
		partitioned(t, d, corpA)
		bobs := token(w.bobKey, w.bob, oauth.GrantPassword)
		bobs.Partition = "CORP"
		alices := token(w.aliceKey, w.alice, oauth.GrantPassword)
		save(t, d, bobs, alices)
		wantRows(t, d, w, "stored", "tokens_a", 1, 1, 1, 0)
		// Each lookup reads one table: not the default one for bob's, not
		// CORP's for alice's. (First: the validation cache keeps what was
		// found, by hash, as a token's hash comes with its partition.)
		if _, err := d.AccessToken(t.Context(), bobs.AccessHash); !errors.Is(err, oauth.ErrNotFound) {
			t.Errorf("bob's token looked up in the default partition: %v; want ErrNotFound", err)
		}
		if _, err := d.RefreshToken(t.Context(), bobs.RefreshHash); !errors.Is(err, oauth.ErrNotFound) {
			t.Errorf("bob's refresh token looked up in the default partition: %v; want ErrNotFound", err)
		}
		if _, err := d.AccessToken(in(t, "CORP"), alices.AccessHash); !errors.Is(err, oauth.ErrNotFound) {
			t.Errorf("alice's token looked up in CORP's partition: %v; want ErrNotFound", err)
		}
		wantLive(t, d, "bob's token", bobs, "CORP", "CORP")
		wantLive(t, d, "alice's token", alices, "", "")
		// A domain not partitioned is the default partition.
		if info, err := d.AccessToken(in(t, "PARTNERS"), alices.AccessHash); err != nil || info.Partition != "" {
			t.Errorf("alice's token under an unpartitioned domain: %+v, %v", info, err)
		}
		// Another handle (node) reads the partitioning from the database.
		wantLive(t, again(t), "bob's token on another handle", bobs, "CORP", "CORP")
	})

	t.Run("every token flow works in a partition", func(t *testing.T) {
		d, again := s.open(t)
		w := buildPartitions(t, d)
		partitioned(t, d, corpA)
		corp := in(t, "CORP")
		first := token(w.bobKey, w.bob, oauth.GrantPassword)
		first.Partition = "CORP"
		save(t, d, first)
		// Refresh: the used token is spent in the partition, its successor stored there.
		next := successor(first)
		next.Partition = "CORP"
		if err := d.RotateRefresh(corp, first.RefreshHash, next); err != nil {
			t.Fatalf("RotateRefresh: %v", err)
		}
		if rt, err := d.RefreshToken(corp, first.RefreshHash); err != nil || !rt.RefreshUsed {
			t.Errorf("the used refresh token: %+v, %v; want used", rt, err)
		}
		again2 := successor(first)
		again2.Partition = "CORP"
		if err := d.RotateRefresh(corp, first.RefreshHash, again2); !errors.Is(err, oauth.ErrRefreshUsed) {
			t.Errorf("second rotation: %v; want ErrRefreshUsed (reuse detection)", err)
		}
		wantLive(t, d, "the successor", next, "CORP", "CORP")
		// Kept answers of the grace period.
		kept := successor(next)
		kept.Partition = "CORP"
		if err := d.RotateRefreshKeeping(corp, next.RefreshHash, kept,
			&oauth.KeptAnswer{Used: next.RefreshHash, Sealed: []byte("sealed"), KeepUntil: t0.Add(time.Minute)}); err != nil {
			t.Fatalf("RotateRefreshKeeping: %v", err)
		}
		// Revocation: one token, then the chain, seen at once through
		// another handle's cache.
		other := again(t)
		wantLive(t, other, "the kept successor on another handle", kept, "CORP", "CORP")
		if err := d.RevokeToken(corp, kept.AccessHash); err != nil {
			t.Fatal(err)
		}
		if info, err := other.AccessToken(corp, kept.AccessHash); err != nil || !info.Revoked {
			t.Errorf("revoked token on another handle: %+v, %v; want revoked", info, err)
		}
		if err := d.RevokeFamily(corp, first.FamilyID); err != nil {
			t.Fatal(err)
		}
		for i, tok := range []*oauth.Token{first, next} {
			if info, err := other.AccessToken(corp, tok.AccessHash); err != nil || !info.Revoked {
				t.Errorf("token %d of the revoked chain: %+v, %v; want revoked", i, info, err)
			}
		}
		// A code redeemed for a token of the partition.
		c := code(t, d, w.bobKey, w.bob)
		ct := codeToken(w.bobKey, c)
		ct.Partition = "CORP"
		if err := d.RedeemCode(corp, c.Hash, ct); err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		wantLive(t, d, "the code's token", ct, "CORP", "CORP")
		// What covers every token covers the partition: the key's
		// application token, counts, a replaced secret, a disabled user.
		app := token(w.bobKey, w.bob, oauth.GrantClientCredentials)
		app.Partition = "CORP"
		aliceApp := token(w.aliceKey, w.alice, oauth.GrantClientCredentials)
		save(t, d, app, aliceApp)
		keys, err := d.KeysOfApplication(t.Context(), w.bobKey.AppID)
		if err != nil || len(keys) == 0 || !keys[0].HasAppToken || !keys[0].AppTokenExpiresAt.Equal(app.ExpiresAt) {
			t.Errorf("KeysOfApplication: %+v, %v; want the partition's application token", keys, err)
		}
		if issued, active := issuedCount(t, d); issued != 6 || active != 3 {
			t.Errorf("TokenCounts: %d issued, %d active; want 6, 3 (both partitions)", issued, active)
		}
		if err := d.RevokeApplicationTokens(t.Context(), w.bobKey.KeyID); err != nil {
			t.Fatal(err)
		}
		wantEndedIn(t, other, "the revoked application token", app, "CORP")
		if _, _, err := d.DisableUser(t.Context(), "CORP/bob", t0); err != nil {
			t.Fatal(err)
		}
		wantEndedIn(t, other, "the disabled user's token", ct, "CORP")
		wantLive(t, other, "alice's application token", aliceApp, "", "")
		// Cleanup deletes the partition's stale tokens.
		n, err := d.DeleteStaleTokens(t.Context(), t0.Add(48*time.Hour))
		if err != nil || n != 6 {
			t.Errorf("DeleteStaleTokens: %d, %v; want 6 (every token)", n, err)
		}
		if _, err := d.RefreshToken(corp, first.RefreshHash); !errors.Is(err, oauth.ErrNotFound) {
			t.Errorf("a cleaned-up partition token: %v; want ErrNotFound", err)
		}
	})

	t.Run("turning partitioning on and off keeps every token valid", func(t *testing.T) {
		d, again := s.open(t)
		w := buildPartitions(t, d)
		// Before: bob's tokens are unmarked, in the default partition.
		old := token(w.bobKey, w.bob, oauth.GrantPassword)
		oldApp := token(w.bobKey, w.bob, oauth.GrantClientCredentials)
		alices := token(w.aliceKey, w.alice, oauth.GrantPassword)
		save(t, d, old, oldApp, alices)
		issued, active := issuedCount(t, d)

		partitioned(t, d, corpA)
		wantRows(t, d, w, "on", "tokens_a", 2, 2, 1, 0)
		wantForwards(t, d, "on", 3) // bob's two access tokens and one refresh token
		// Moved, and still found from their unmarked strings, as in the
		// partition they are in now.
		wantLive(t, d, "bob's token issued before", old, "", "CORP")
		wantLive(t, d, "bob's application token issued before", oldApp, "", "CORP")
		wantLive(t, d, "alice's token", alices, "", "")
		if i, a := issuedCount(t, d); i != issued || a != active {
			t.Errorf("after the move: %d issued, %d active; want %d, %d (a move issues nothing)", i, a, issued, active)
		}
		// Its chain goes on in the partition, marked from now on.
		next := successor(old)
		next.Partition = "CORP"
		if err := d.RotateRefresh(in(t, "CORP"), old.RefreshHash, next); err != nil {
			t.Fatalf("RotateRefresh of a moved token: %v", err)
		}
		wantLive(t, d, "its successor", next, "CORP", "CORP")
		marked := token(w.bobKey, w.bob, oauth.GrantPassword)
		marked.Partition = "CORP"
		save(t, d, marked)
		// Starting again with the same partitioning moves nothing. (The
		// node that restarted then stops: a cluster changes its
		// partitioning only while no other node runs.)
		restarted := again(t)
		partitioned(t, restarted, corpA)
		if err := restarted.Close(); err != nil {
			t.Fatal(err)
		}
		wantLive(t, d, "bob's token issued before, after a restart", oldApp, "", "CORP")

		wantRows(t, d, w, "on, later", "tokens_a", 4, 4, 1, 0)
		// Off: everything is back in the default partition, marked or not.
		partitioned(t, d, nil)
		wantRows(t, d, w, "off", "", 0, 0, 5, 4)
		wantForwards(t, d, "off", 0)
		wantLive(t, d, "bob's token issued before, off", oldApp, "", "")
		wantLive(t, d, "bob's marked token, off", marked, "CORP", "")
		wantLive(t, d, "the successor, off", next, "CORP", "")
		wantLive(t, d, "alice's token, off", alices, "", "")
		// On again, under another table name.
		partitioned(t, d, []oauth.Partition{{Domain: "CORP", Name: "b"}})
		wantRows(t, d, w, "on again", "tokens_b", 4, 4, 1, 0)
		wantLive(t, d, "bob's token issued before, on again", oldApp, "", "CORP")
		wantLive(t, d, "bob's marked token, on again", marked, "CORP", "CORP")
		wantLive(t, d, "the successor, on again", next, "CORP", "CORP")
		// Revocation by the unmarked token's hash reaches it where it is.
		if err := d.RevokeToken(t.Context(), oldApp.AccessHash); err != nil {
			t.Fatal(err)
		}
		wantEndedIn(t, d, "bob's unmarked token revoked by its hash", oldApp, "")
		if i, a := issuedCount(t, d); i != issued+2 || a != active+1 {
			t.Errorf("at the end: %d issued, %d active; want %d, %d", i, a, issued+2, active+1)
		}
		// Cleanup removes the tokens, and the forwards of those moved.
		if n, err := d.DeleteStaleTokens(t.Context(), t0.Add(48*time.Hour)); err != nil || n != 5 {
			t.Errorf("DeleteStaleTokens: %d, %v; want 5 (every token)", n, err)
		}
		wantForwards(t, d, "after the cleanup", 0)
	})

	t.Run("bad partitionings are refused and change nothing", func(t *testing.T) {
		for _, bad := range []string{"CORP", "CORP:", ":a", "CORP:a,CORP:b", "CORP:a,PARTNERS:a", "CORP:a-b", "CO.RP:a", "CORP:a;DROP"} {
			if ps, err := oauth.ParsePartitioning(bad); err == nil {
				t.Errorf("ParsePartitioning(%q) = %v; want an error", bad, ps)
			}
		}
		ps, err := oauth.ParsePartitioning(" corp:A , PARTNERS:b ")
		if err != nil || fmt.Sprint(ps) != fmt.Sprint([]oauth.Partition{{Domain: "CORP", Name: "a"}, {Domain: "PARTNERS", Name: "b"}}) {
			t.Errorf("ParsePartitioning: %v, %v", ps, err)
		}
		d := s.store(t)
		w := buildPartitions(t, d)
		bobs := token(w.bobKey, w.bob, oauth.GrantPassword)
		save(t, d, bobs)
		for _, bad := range [][]oauth.Partition{{{Domain: "CORP", Name: "a (id INTEGER); DROP TABLE users; --"}},
			{{Domain: "CORP') OR ('1'='1", Name: "a"}}, {{Domain: "CORP", Name: "a"}, {Domain: "corp", Name: "b"}}} {
			if err := d.PartitionTokens(t.Context(), bad); err == nil {
				t.Errorf("PartitionTokens(%q) succeeded", bad)
			}
		}
		wantLive(t, d, "bob's token, after refused partitionings", bobs, "", "")
		if _, err := d.UserAccount(t.Context(), "alice"); err != nil {
			t.Errorf("alice after refused partitionings: %v", err)
		}
	})
}

// wantEndedIn checks that tok, looked up in partition p, is revoked or gone.
func wantEndedIn(t *testing.T, d db.Store, what string, tok *oauth.Token, p string) {
	t.Helper()
	info, err := d.AccessToken(in(t, p), tok.AccessHash)
	if errors.Is(err, oauth.ErrNotFound) {
		return
	}
	if err != nil || !info.Revoked {
		t.Errorf("%s: %+v, %v; want revoked", what, info, err)
	}
}
