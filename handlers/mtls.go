package handlers

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/components"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// clientCerts is the certificate chain the client presented in the TLS
// handshake, leaf first (RFC 8705), or nil: none, or not over TLS. The
// HTTPS ports ask for one without checking it; the oauth package checks it
// against the client's registration.
func clientCerts(req *http.Request) []*x509.Certificate {
	if req.TLS == nil {
		return nil
	}
	return req.TLS.PeerCertificates
}

// clientAuthForm is a client authentication form of My Subscriptions: a
// subject for tls_client_auth, or PEM certificates for
// self_signed_tls_client_auth; neither field for the consumer secret.
type clientAuthForm struct {
	SubjectKind string `form:"subject_kind"`
	Subject     string `form:"subject" validate:"max=1000,oneline"`
	Certificate string `form:"certificate" validate:"max=65536,text"`
}

func (f *clientAuthForm) trim() {
	f.Subject, f.Certificate = strings.TrimSpace(f.Subject), strings.TrimSpace(f.Certificate)
}

// SetClientAuth sets how an application's keys authenticate, as apistore
// app tls does: with a certificate naming a subject (tls_client_auth),
// with one of the pasted self-signed certificates
// (self_signed_tls_client_auth), or with their consumer secrets again.
// POST /store/subscriptions/:app/tls/:method, method "subject",
// "certificate" or "secret".
func (h *Handlers) SetClientAuth(c echo.Context) error {
	app, err := h.ownedApplication(c, c.Param("app"))
	if err != nil {
		return err
	}
	var f clientAuthForm
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	var a oauth.TLSAuth
	var certs []*x509.Certificate
	field := "subject"
	switch c.Param("method") {
	case "subject":
		a = oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: f.SubjectKind, Subject: f.Subject}
		if f.Subject == "" && errs["subject"] == "" {
			errs = withError(errs, "subject", "Enter the subject the certificate names.")
		}
	case "certificate":
		field = "certificate"
		if errs["certificate"] == "" {
			certs, err = oauth.ParseClientCertificates([]byte(f.Certificate), h.now())
			if err != nil {
				errs = withError(errs, "certificate", sentence(err.Error()))
			}
		}
		a = oauth.SelfSignedTLSAuth(certs)
	case "secret":
	default:
		return echo.ErrNotFound
	}
	if len(errs) == 0 {
		if err := a.Check(); err != nil {
			errs = withError(errs, field, sentence(err.Error()))
		}
	}
	if len(errs) > 0 {
		form := h.clientAuthForm(f.SubjectKind, f.Subject, f.Certificate)
		form.Errors = errs
		return h.subscriptionsPage(c, http.StatusUnprocessableEntity, app, &revealed{clientAuth: &form})
	}
	err = h.store.SetApplicationTLSAuth(c.Request().Context(), app.ID, a)
	if isNotFound(err) { // deleted meanwhile, e.g. in another tab
		return errNoApplication
	}
	if err != nil {
		return err
	}
	client, detail := h.appAuditFields(c, app.ID, app.Name)
	h.audit(c, portal.AuditApplicationUpdated, h.CurrentUser(c).Username, client, detail+": the keys authenticate with "+describeTLSAuth(a))
	msg := "The keys of " + app.Name + " authenticate with " + describeTLSAuth(a) + "."
	for _, cert := range certs {
		msg += fmt.Sprintf(" Registered %s, valid until %s.", cert.Subject, formatTime(cert.NotAfter))
	}
	return h.flashTo(c, fmt.Sprintf("/store/subscriptions?app=%d", app.ID), msg)
}

// withError adds a field's message to errs, made when nil.
func withError(errs map[string]string, field, msg string) map[string]string {
	if errs == nil {
		errs = map[string]string{}
	}
	errs[field] = msg
	return errs
}

// describeTLSAuth names a registration as the audit trail and the flash
// say it.
func describeTLSAuth(a oauth.TLSAuth) string {
	switch a.Method {
	case oauth.AuthTLSClient:
		return fmt.Sprintf("%s (%s %s)", a.Method, a.SubjectKind, a.Subject)
	case oauth.AuthSelfSignedTLS:
		return fmt.Sprintf("%s (SHA-256 %s)", a.Method, oauth.JoinThumbprints(a.Certs))
	}
	return "the client secret (" + oauth.AuthSecretBasic + ", " + oauth.AuthSecretPost + ")"
}

// clientAuthForm is the client authentication forms with what was typed.
func (h *Handlers) clientAuthForm(kind, subject, certificate string) store.ClientAuthForm {
	if kind == "" {
		kind = oauth.SubjectDN
	}
	return store.ClientAuthForm{SubjectKind: kind, Subject: subject, Certificate: certificate,
		SubjectKinds: components.Options(oauth.SubjectKinds)}
}

// clientAuthView shows an application's registration, with form (nil:
// the forms as first shown, filled with what is registered).
func (h *Handlers) clientAuthView(a oauth.TLSAuth, form *store.ClientAuthForm) store.ClientAuthView {
	v := store.ClientAuthView{Method: a.Method, SubjectKind: a.SubjectKind, Subject: a.Subject, Offered: h.oauth.CertificateAuthMethods()}
	known := a.Certificates()
	for _, t := range a.Certs {
		cv := store.CertView{Hex: t.String(), X5tS256: oauth.X5tS256(t)}
		if c := known[t]; c != nil {
			cv.Subject, cv.NotAfter, cv.Expired = c.Subject.String(), formatTime(c.NotAfter), h.now().After(c.NotAfter)
		}
		v.Certs = append(v.Certs, cv)
	}
	if form != nil {
		v.Form = *form
	} else {
		v.Form = h.clientAuthForm(a.SubjectKind, a.Subject, "")
	}
	return v
}
