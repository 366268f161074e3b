package handlers

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
)

// checks are the validator tags backed by the oauth package's rules, so the
// store's forms and the command line accept the same values.
var checks = map[string]func(string) error{
	"username": oauth.CheckUsername,
	"password": oauth.CheckPasswordStrength,
	"callback": func(s string) error {
		if s == "" {
			return nil
		}
		return oauth.CheckRedirectURI(s)
	},
	"oneline": func(s string) error {
		if strings.ContainsFunc(s, hiddenRune) {
			return errors.New("use visible characters only: no line breaks, control or text-direction characters")
		}
		return nil
	},
	// text is free text of several lines (a description): no control
	// characters but line breaks and tabs. A NUL in particular is no
	// character anyone types, and PostgreSQL's text cannot hold one.
	"text": func(s string) error {
		if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) {
			return errors.New("use text only: no control characters but line breaks and tabs")
		}
		return nil
	},
	"scopename": oauth.CheckScopeName,
	"tiername":  portal.CheckTierName,
	"tierrpm": func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return portal.CheckTierRPM(-1)
		}
		return portal.CheckTierRPM(n)
	},
	"seconds": func(s string) error {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n == 0 || n < -1 || n > maxValiditySeconds {
			return fmt.Errorf("enter the token validity in seconds, from 1 to %d (ten years), or -1 for tokens that never expire", maxValiditySeconds)
		}
		return nil
	},
}

// hiddenRune reports a character that has no place in a one-line name shown
// to others (an application's name on the consent page): control characters
// and the bidirectional overrides and isolates that make text read other
// than it is stored.
func hiddenRune(r rune) bool {
	return unicode.IsControl(r) || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}

// searchable reports whether a search typed in a query (the Users and
// Audit pages' filters) can match anything stored: no name holds invalid
// UTF-8 or a control character, and PostgreSQL's text cannot even hold a
// NUL, so such a search is answered without asking the store.
func searchable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, hiddenRune)
}

// maxValiditySeconds bounds a key's token validity: ten years.
const maxValiditySeconds = 10 * 365 * 24 * 60 * 60

// newValidator returns a validator whose errors name fields by their form
// names, with the oauth rules registered as tags.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		return strings.Split(f.Tag.Get("form"), ",")[0]
	})
	for tag, check := range checks {
		err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool { return check(fl.Field().String()) == nil })
		if err != nil {
			panic(err) // only a bad tag name fails, a programming error
		}
	}
	return v
}

// bindForm reads a posted form into dst (a struct with form tags) and
// validates it, after trimming its text fields when it has a trim method;
// the result maps form field names to messages for the page.
func (h *Handlers) bindForm(c echo.Context, dst any) (map[string]string, error) {
	if err := checkFormBody(c); err != nil {
		return nil, err
	}
	if err := c.Bind(dst); err != nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The form could not be read. Reload the page and try again.")
	}
	if t, ok := dst.(interface{ trim() }); ok {
		t.trim()
	}
	return h.fieldErrors(dst)
}

// Answers to a body that is not a form the store's pages could have sent.
var (
	errNotAForm = echo.NewHTTPError(http.StatusUnsupportedMediaType, "Send this form from its page in the store.")
	errNotUTF8  = echo.NewHTTPError(http.StatusBadRequest, "The form holds text that is not UTF-8. Retype it and try again.")
)

// checkFormBody accepts only form encodings (echo's Bind would also take
// JSON or XML) whose every name and value is UTF-8 text, so what is stored
// shows as it was typed.
func checkFormBody(c echo.Context) error {
	mediaType, _, _ := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if mediaType != echo.MIMEApplicationForm && mediaType != echo.MIMEMultipartForm {
		return errNotAForm
	}
	params, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read. Reload the page and try again.")
	}
	for name, values := range params {
		if !utf8.ValidString(name) || !allUTF8(values) {
			return errNotUTF8
		}
	}
	return nil
}

func allUTF8(values []string) bool {
	for _, v := range values {
		if !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

// fieldErrors validates a bound form.
func (h *Handlers) fieldErrors(form any) (map[string]string, error) {
	err := h.validate.Struct(form)
	if err == nil {
		return nil, nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return nil, fmt.Errorf("validate form: %w", err)
	}
	out := make(map[string]string, len(verrs))
	for _, fe := range verrs {
		if _, seen := out[fe.Field()]; !seen {
			out[fe.Field()] = fieldMessage(fe)
		}
	}
	return out, nil
}

// fieldMessage says what is wrong with a field, as a sentence for the user.
func fieldMessage(fe validator.FieldError) string {
	if check, ok := checks[fe.Tag()]; ok {
		if err := check(fmt.Sprint(fe.Value())); err != nil {
			return sentence(err.Error())
		}
	}
	switch fe.Tag() {
	case "required":
		return "Fill this in."
	case "email":
		return "Enter an email address, like name@example.com."
	case "max":
		return "Use at most " + fe.Param() + " characters."
	case "min":
		return "Use at least " + fe.Param() + "."
	case "eqfield":
		return "The passwords do not match."
	case "oneof":
		return "Choose one of: " + strings.ReplaceAll(fe.Param(), " ", ", ") + "."
	}
	return "This value is not valid."
}

// sentence capitalizes a lower-case error text and ends it with a period.
func sentence(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
