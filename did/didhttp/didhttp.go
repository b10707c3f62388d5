// Package didhttp serves a did.Resolver over the HTTP(S) binding of W3C DID
// Resolution: GET /1.0/identifiers/{did-or-did-url}.
//
// The path segment is a DID or DID URL, either as is
// (/1.0/identifiers/did:example:123) or percent-encoded as a whole
// (/1.0/identifiers/did%3Aexample%3A123%23key-1, the only way to send a
// fragment). The HTTP query carries the resolution options versionId and
// versionTime (RFC 3339) and the DID URL parameters service and
// relativeRef.
//
// Resolution responses are negotiated on the Accept header:
//
//	application/did-resolution,
//	application/ld+json;profile="https://w3id.org/did-resolution"
//	                          → the resolution result, as application/did-resolution
//	application/did+ld+json   → the document alone, as application/did+ld+json
//	application/did+json      → the document alone, as application/did+json
//	application/did           → the document alone, as application/did
//	application/json, application/ld+json, */*, application/*, no Accept
//	                          → the document alone, as application/did+ld+json
//	anything else             → 406
//
// In a resolution result, didResolutionMetadata.contentType is the media
// type of the document representation it carries (application/did+ld+json;
// the document includes its @context); when the document is sent alone,
// that media type is the response's Content-Type.
//
// Errors are resolution results with didDocument null and
// didResolutionMetadata.error set, served as application/did-resolution:
// invalidDid, invalidDidUrl and invalidOptions → 400, notFound → 404,
// representationNotSupported → 406, methodNotSupported → 501, anything else
// → 500 (with a generic message; the cause is logged). A deactivated DID
// gives 410 with the resolution result (didDocumentMetadata.deactivated:
// true) whatever the Accept header.
//
// A DID URL with a fragment is dereferenced to the verification method or
// service it names, served as application/json; one with a service
// parameter is answered with 303 See Other to the service endpoint URL
// (joined with relativeRef).
package didhttp

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/httpx"
)

// Media types of the binding.
const (
	ContentTypeResolution = "application/did-resolution"
	ContentTypeDIDLD      = "application/did+ld+json"
	ContentTypeDIDJSON    = "application/did+json"
	ContentTypeDID        = "application/did"
	contentTypeJSON       = "application/json"
	resolutionProfile     = "https://w3id.org/did-resolution"
)

// Register registers the DID resolution routes on g:
//
//	GET /1.0/identifiers/:did
//
// Resolution is public and answers CORS requests from any origin, so
// that browser-based wallets and verifiers resolve DIDs too.
func Register(g *echo.Group, r *did.Resolver) {
	h := &handler{r: r}
	g.GET("/1.0/identifiers/:did", h.identifiers, httpx.PublicCORS(""))
}

type handler struct {
	r *did.Resolver
}

// representation is the negotiated response form.
type representation struct {
	full        bool   // the whole resolution result
	contentType string // the Content-Type of a document sent alone
}

var (
	repFull    = representation{full: true, contentType: ContentTypeResolution}
	repDIDLD   = representation{contentType: ContentTypeDIDLD}
	repDIDJSON = representation{contentType: ContentTypeDIDJSON}
	repDID     = representation{contentType: ContentTypeDID}
)

// identifiers handles GET /1.0/identifiers/:did: decode, negotiate,
// resolve or dereference, render.
func (h *handler) identifiers(c echo.Context) error {
	req := c.Request()
	c.Response().Header().Set(echo.HeaderVary, echo.HeaderAccept)

	s := c.Param("did")
	if len(s) >= 6 && strings.EqualFold(s[:6], "did%3a") {
		// Percent-encoded as a whole. (A DID never starts with "did%",
		// so the two forms cannot be confused.)
		var err error
		if s, err = url.PathUnescape(s); err != nil {
			return h.fail(c, invalidf(did.ErrInvalidDIDURL, "malformed percent-encoding"))
		}
	}
	u, err := did.ParseURL(s)
	if err != nil {
		if !strings.ContainsAny(s, "/?#") {
			_, err = did.Parse(s) // report it as an invalid DID
		}
		return h.fail(c, err)
	}

	var opts did.ResolutionOptions
	if raw := req.URL.RawQuery; raw != "" {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return h.fail(c, invalidf(did.ErrInvalidOptions, "malformed query"))
		}
		opts.VersionID = q.Get("versionId")
		if v := q.Get("versionTime"); v != "" {
			if opts.VersionTime, err = time.Parse(time.RFC3339, v); err != nil {
				return h.fail(c, invalidf(did.ErrInvalidOptions, "versionTime is not an RFC 3339 time"))
			}
		}
		if q.Has("service") && u.Query == "" {
			p := url.Values{"service": q["service"]}
			if q.Has("relativeRef") {
				p["relativeRef"] = q["relativeRef"]
			}
			u.Query = p.Encode()
		}
	}

	rep, ok := negotiate(req.Header.Get(echo.HeaderAccept))
	if !ok {
		return h.fail(c, invalidf(did.ErrRepresentationNotSupported, "no acceptable representation"))
	}
	opts.Accept = rep.contentType
	if rep.full {
		opts.Accept = ContentTypeDIDLD
	}

	if u.Path == "" && u.Query == "" && u.Fragment == "" {
		res, err := h.r.ResolveDID(req.Context(), u.DID, opts)
		if err != nil {
			return h.fail(c, err)
		}
		return render(c, res, rep)
	}

	v, res, err := h.r.Dereference(req.Context(), u, opts)
	if err != nil {
		if res != nil && res.DocumentMetadata.Deactivated {
			return render(c, res, rep)
		}
		return h.fail(c, err)
	}
	switch v := v.(type) {
	case *did.Document:
		return render(c, res, rep)
	case string:
		if strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://") {
			return c.Redirect(http.StatusSeeOther, v)
		}
		return writeJSON(c, http.StatusOK, contentTypeJSON, v)
	default:
		return writeJSON(c, http.StatusOK, contentTypeJSON, v)
	}
}

// render writes a successful resolution in representation rep.
func render(c echo.Context, res *did.Result, rep representation) error {
	if res.DocumentMetadata.Deactivated || rep.full {
		status := http.StatusOK
		if res.DocumentMetadata.Deactivated {
			status = http.StatusGone
		}
		out := *res // do not modify the resolver's result
		if out.Document != nil {
			out.ResolutionMetadata.ContentType = ContentTypeDIDLD
		}
		return writeJSON(c, status, ContentTypeResolution, out)
	}
	return writeJSON(c, http.StatusOK, rep.contentType, res.Document)
}

// writeJSON writes v as JSON. The did types encode themselves without
// reflection, so their MarshalJSON is called directly rather than through
// json.Marshal, which would re-scan the output.
func writeJSON(c echo.Context, status int, contentType string, v any) error {
	var b []byte
	var err error
	if m, ok := v.(json.Marshaler); ok {
		b, err = m.MarshalJSON()
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		slog.ErrorContext(c.Request().Context(), "didhttp: encoding response", "error", err,
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		return c.Blob(http.StatusInternalServerError, ContentTypeResolution,
			[]byte(`{"@context":"`+did.ResolutionContext+`","didDocument":null,"didDocumentMetadata":{},"didResolutionMetadata":{"error":"internalError","errorMessage":"internal error"}}`))
	}
	return c.Blob(status, contentType, b)
}

// invalidError is an error of the binding itself, wrapping a sentinel.
type invalidError struct {
	sentinel error
	msg      string
}

func (e *invalidError) Error() string { return e.sentinel.Error() + ": " + e.msg }
func (e *invalidError) Unwrap() error { return e.sentinel }

func invalidf(sentinel error, msg string) error { return &invalidError{sentinel, msg} }

// statusFor maps a W3C error type to its HTTP status.
func statusFor(typ string) int {
	switch typ {
	case "invalidDid", "invalidDidUrl", "invalidOptions":
		return http.StatusBadRequest
	case "notFound":
		return http.StatusNotFound
	case "representationNotSupported":
		return http.StatusNotAcceptable
	case "methodNotSupported":
		return http.StatusNotImplemented
	default:
		return http.StatusInternalServerError
	}
}

// fail writes err as a resolution result with the error set. Internal
// errors get a generic message; their cause is logged.
func (h *handler) fail(c echo.Context, err error) error {
	typ := did.ErrorType(err)
	msg := err.Error()
	if typ == "internalError" {
		slog.ErrorContext(c.Request().Context(), "didhttp: resolution failed", "error", err,
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		msg = "internal error"
	}
	return writeJSON(c, statusFor(typ), ContentTypeResolution, did.Result{
		ResolutionMetadata: did.ResolutionMetadata{Error: typ, ErrorMessage: msg},
	})
}

// negotiate picks the representation for an Accept header: the acceptable
// media range with the highest q, a specific type winning a tie with a
// wildcard. An empty header accepts the default (the document alone as
// application/did+ld+json).
func negotiate(accept string) (representation, bool) {
	if strings.TrimSpace(accept) == "" {
		return repDIDLD, true
	}
	var best representation
	bestQ, bestWild, found := 0.0, false, false
	for accept != "" {
		var part string
		part, accept, _ = strings.Cut(accept, ",")
		mt, params, _ := strings.Cut(part, ";")
		mt = strings.TrimSpace(mt)
		q, profile := 1.0, ""
		for params != "" {
			var p string
			p, params, _ = strings.Cut(params, ";")
			k, v, _ := strings.Cut(p, "=")
			k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`)
			switch {
			case strings.EqualFold(k, "q"):
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			case strings.EqualFold(k, "profile"):
				profile = v
			}
		}
		if q <= 0 {
			continue
		}
		rep, wild, ok := lookup(mt, profile)
		if !ok {
			continue
		}
		if !found || q > bestQ || q == bestQ && bestWild && !wild {
			best, bestQ, bestWild, found = rep, q, wild, true
		}
	}
	return best, found
}

// lookup maps a media range to a representation.
func lookup(mt, profile string) (rep representation, wild, ok bool) {
	switch {
	case strings.EqualFold(mt, ContentTypeResolution):
		return repFull, false, true
	case strings.EqualFold(mt, "application/ld+json"):
		for p := range strings.FieldsSeq(profile) {
			if p == resolutionProfile {
				return repFull, false, true
			}
		}
		return repDIDLD, false, true
	case strings.EqualFold(mt, ContentTypeDIDLD):
		return repDIDLD, false, true
	case strings.EqualFold(mt, ContentTypeDIDJSON):
		return repDIDJSON, false, true
	case strings.EqualFold(mt, ContentTypeDID):
		return repDID, false, true
	case strings.EqualFold(mt, contentTypeJSON):
		return repDIDLD, false, true
	case mt == "*/*", strings.EqualFold(mt, "application/*"):
		return repDIDLD, true, true
	}
	return representation{}, false, false
}
