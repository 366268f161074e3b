package handlers

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// maxUserAgent bounds the User-Agent a session keeps: enough for every
// browser's, and a client cannot grow rows with a long one.
const maxUserAgent = 256

// userAgent is the request's User-Agent as a session keeps it: printable
// UTF-8 text (any client writes the header, and PostgreSQL's text holds
// no NUL), cut to maxUserAgent bytes on a character boundary.
func userAgent(c echo.Context) string {
	ua := strings.ToValidUTF8(c.Request().UserAgent(), "\uFFFD")
	ua = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || hiddenRune(r) {
			return -1
		}
		return r
	}, ua)
	if len(ua) <= maxUserAgent {
		return ua
	}
	n := maxUserAgent
	for n > 0 && !utf8.RuneStart(ua[n]) {
		n--
	}
	return ua[:n]
}

// describeAgent names the browser and system of a User-Agent as people
// know them ("Firefox on Linux"), for the list of sessions; the header
// itself is shown beside it. Browsers name their relatives for
// compatibility (Edge says Chrome and Safari, Chrome says Safari), so the
// most specific token is looked for first.
func describeAgent(ua string) string {
	if ua == "" {
		return "Unknown browser"
	}
	browser := "Unknown browser"
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"}, {"CriOS/", "Chrome"}, {"FxiOS/", "Firefox"}, {"Safari/", "Safari"},
		{"curl/", "curl"}, {"Wget/", "Wget"}, {"Go-http-client/", "Go program"}, {"python-requests/", "Python program"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, s := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, s.token) {
			system = s.name
			break
		}
	}
	if system == "" {
		return browser
	}
	return browser + " on " + system
}
