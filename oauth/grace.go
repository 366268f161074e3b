package oauth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultRefreshGrace is how long a client may present a refresh token
// again after its first use and get the same answer: long enough for a
// retry after a lost response, or for the refreshes of several threads or
// tabs that raced each other, short enough to keep a stolen token's window
// small (serve's --refresh-grace).
const DefaultRefreshGrace = 30 * time.Second

// KeptAnswer is the answer to a refresh, kept for the grace period so that
// a retry gets it again (see Server.RefreshGrace). Sealed holds it
// encrypted under a key only the refresh token that was presented yields:
// the stored row alone (Used, which is the token's SHA-256, and Sealed)
// gives neither the access token nor the new refresh token.
type KeptAnswer struct {
	Used      Hash      // HashOf the refresh token the answer was for
	Sealed    []byte    // sealAnswer's output
	KeepUntil time.Time // when the grace period ends; the row may be deleted then
}

// KeptAnswerStore keeps refresh answers for the grace period.
type KeptAnswerStore interface {
	// RotateRefreshKeeping is RotateRefresh that also stores kept, in the
	// same transaction: whoever sees the refresh token used sees its
	// answer too.
	RotateRefreshKeeping(ctx context.Context, used Hash, next *Token, kept *KeptAnswer) error
	// KeptAnswer returns the answer kept for the refresh token hashing to
	// used, or ErrNotFound.
	KeptAnswer(ctx context.Context, used Hash) (*KeptAnswer, error)
}

// RefreshGrace sets how long the same client may present a refresh token
// it already used and get the identical answer (same access token, same
// new refresh token, expires_in counted down); 0, the default of
// NewServer, turns it off. Concurrent refreshes of one token get that one
// answer too. After it, or from another client, presenting a used refresh
// token is a replay and revokes the chain (RFC 9700 §4.14.2). Call it
// before serving.
func (s *Server) RefreshGrace(d time.Duration) { s.grace = max(d, 0) }

// keptAnswer is what is sealed: the response and the times it depends on.
type keptAnswer struct {
	Response  TokenResponse `json:"response"`
	IssuedAt  int64         `json:"issued_at"`  // Unix milliseconds
	KeepUntil int64         `json:"keep_until"` // Unix milliseconds
}

// answerKeyInfo tells HKDF's output apart from HashOf's, which is stored:
// knowing the stored hash does not give the key.
const answerKeyInfo = "apistore refresh grace answer key v1"

// answerKey derives the AES-256 key of a kept answer from the refresh token
// it answered (HKDF-SHA256, RFC 5869).
func answerKey(refresh string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(refresh), nil, answerKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealAnswer encrypts a refresh's answer with AES-256-GCM under a key
// derived from the refresh token presented, bound to its hash (the row's
// key) as additional data: nonce followed by ciphertext.
func sealAnswer(refresh string, a *keptAnswer) ([]byte, error) {
	aead, err := answerKey(refresh)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	used := HashOf(refresh)
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return aead.Seal(nonce, nonce, plain, used[:]), nil
}

// openAnswer decrypts what sealAnswer sealed for refresh.
func openAnswer(refresh string, sealed []byte) (*keptAnswer, error) {
	aead, err := answerKey(refresh)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("kept answer too short")
	}
	used := HashOf(refresh)
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], used[:])
	if err != nil {
		return nil, fmt.Errorf("open kept answer: %w", err)
	}
	var a keptAnswer
	if err := json.Unmarshal(plain, &a); err != nil {
		return nil, fmt.Errorf("decode kept answer: %w", err)
	}
	return &a, nil
}

// rotate spends the refresh token presented and stores next; with a grace
// period, it keeps resp sealed beside it.
func (s *Server) rotate(ctx context.Context, presented string, next *Token, resp *TokenResponse) error {
	used := HashOf(presented)
	if s.grace <= 0 {
		return s.store.RotateRefresh(ctx, used, next)
	}
	until := next.IssuedAt.Add(s.grace)
	sealed, err := sealAnswer(presented, &keptAnswer{Response: *resp, IssuedAt: next.IssuedAt.UnixMilli(), KeepUntil: until.UnixMilli()})
	if err != nil {
		return fmt.Errorf("seal refresh answer: %w", err)
	}
	return s.store.RotateRefreshKeeping(ctx, used, next, &KeptAnswer{Used: used, Sealed: sealed, KeepUntil: until})
}

// refreshRetry answers a refresh token already used by the client it was
// issued to: the answer of its first use while the grace period lasts,
// else a replay that revokes the chain. It is also where a refresh that
// lost the race to rotate the token ends up: the winner stored its answer
// in the transaction that marked the token used, so once the token reads
// as used its answer can be read too, on every node, and no waiting is
// needed.
func (s *Server) refreshRetry(ctx context.Context, presented string, family Hash) (*TokenResponse, *Error) {
	if s.grace <= 0 {
		return nil, s.refreshReused(ctx, family)
	}
	kept, err := s.store.KeptAnswer(ctx, HashOf(presented))
	if errors.Is(err, ErrNotFound) { // used before the grace period was on, or deleted after it
		return nil, s.refreshReused(ctx, family)
	}
	if err != nil {
		return nil, internal(ctx, "load kept refresh answer", err)
	}
	a, err := openAnswer(presented, kept.Sealed)
	if err != nil {
		// The token hashes to the row, so only a damaged row gets here:
		// treat it as the replay it cannot be told from.
		slog.WarnContext(ctx, "oauth: kept refresh answer", "err", err)
		return nil, s.refreshReused(ctx, family)
	}
	now := s.now()
	if !now.Before(time.UnixMilli(a.KeepUntil)) {
		return nil, s.refreshReused(ctx, family)
	}
	// What it handed out must still stand: the chain revoked since (a
	// replay, the user, an administrator), the new token revoked at
	// /revoke, or a user or application owner disabled since, and it is
	// not handed out again.
	next, err := s.store.RefreshTokenInfo(forToken(ctx, a.Response.RefreshToken), HashOf(a.Response.RefreshToken))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, ErrInvalidGrant("the refresh token was revoked")
	case err != nil:
		return nil, internal(ctx, "load refreshed token", err)
	case next.Revoked:
		return nil, ErrInvalidGrant("the refresh token was revoked")
	}
	resp := a.Response
	resp.Repeated = true
	if resp.ExpiresIn > 0 {
		left := time.UnixMilli(a.IssuedAt).Add(time.Duration(resp.ExpiresIn) * time.Second).Sub(now)
		// At least 1: 0 would leave expires_in out, which means "never".
		resp.ExpiresIn = max(int64((left+time.Second-1)/time.Second), 1)
	}
	return &resp, nil
}
