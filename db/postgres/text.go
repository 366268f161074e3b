package postgres

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// PostgreSQL's text holds valid UTF-8 without NUL bytes; SQLite's holds
// any bytes. Whatever a client sends — a username typed at the log-in
// form, a client_id, a path — may hold either, and the two stores must
// answer alike:
//
//   - A lookup by such text finds nothing, as in SQLite, where no stored
//     row can hold it (every way in refuses it first, or it is stored in
//     SQLite only): queryRow answers pgx.ErrNoRows without asking.
//   - A write of such text fails with ErrInvalidText, a clear error, before
//     anything is sent; PostgreSQL's own refusal (SQLSTATE 22021) becomes
//     the same error.
//
// Text that is counted rather than stored as text (the brute-force
// counters' keys) is kept as BYTEA (migration 0050), so it needs neither.

// ErrInvalidText is the error of a write of text that PostgreSQL cannot
// store: a NUL byte, or bytes that are not UTF-8.
var ErrInvalidText = errors.New("the text holds a NUL byte or is not UTF-8, which PostgreSQL cannot store")

// textOK reports whether PostgreSQL's text can hold s.
func textOK(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// checkText returns ErrInvalidText when an argument is text, or a list of
// text, that PostgreSQL cannot hold.
func checkText(args []any) error {
	for _, a := range args {
		switch v := a.(type) {
		case string:
			if !textOK(v) {
				return ErrInvalidText
			}
		case []string:
			for _, s := range v {
				if !textOK(s) {
					return ErrInvalidText
				}
			}
		}
	}
	return nil
}

// textError makes PostgreSQL's refusal of text (character_not_in_repertoire,
// or untranslatable_character) ErrInvalidText.
func textError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "22021" || pe.Code == "22P05") {
		return fmt.Errorf("%w: %w", ErrInvalidText, err)
	}
	return err
}

// words splits a space-separated column; joinWords makes one.
func words(s string) []string { return strings.Fields(s) }

func joinWords(list []string) string { return strings.Join(list, " ") }

func seconds(d time.Duration) int64 { return int64(d / time.Second) }
