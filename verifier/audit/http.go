package audit

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/internal/httpx"
)

// PathAudit is the operator's listing route.
const PathAudit = "/verifier/audit"

// EntryJSON is an entry as the API shows it. Salt is set only in a
// patient's own listing.
type EntryJSON struct {
	ID              string    `json:"id"`
	Kind            Kind      `json:"kind"`
	Time            time.Time `json:"time"`
	Verifier        string    `json:"verifier"`
	Client          string    `json:"client,omitempty"`
	Patient         string    `json:"patient,omitempty"`
	CredentialTypes []string  `json:"credential_types,omitempty"`
	ClaimNames      []string  `json:"claim_names,omitempty"`
	Scopes          []string  `json:"scopes,omitempty"`
	Purpose         string    `json:"purpose,omitempty"`
	Outcome         Outcome   `json:"outcome"`
	Reasons         []string  `json:"reasons,omitempty"`
	Seq             uint64    `json:"seq,omitempty"`
	Prev            string    `json:"prev,omitempty"`
	Commitment      string    `json:"commitment"`
	LeafIndex       *uint64   `json:"leaf_index,omitempty"`
	Pending         bool      `json:"pending,omitempty"`
	Salt            []byte    `json:"salt,omitempty"`
}

// PageJSON is a page as the API shows it.
type PageJSON struct {
	Entries    []EntryJSON `json:"entries"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// JSON renders l for an API response (with the salt if l has one).
func (l Logged) JSON() EntryJSON {
	e := l.Entry
	j := EntryJSON{ID: l.ID, Kind: e.Kind, Time: e.Time, Verifier: e.Verifier, Client: e.Client, Patient: e.Patient,
		CredentialTypes: e.CredentialTypes, ClaimNames: e.ClaimNames, Scopes: e.Scopes, Purpose: e.Purpose,
		Outcome: e.Outcome, Reasons: e.Reasons, Seq: e.Seq, Prev: e.Prev, Commitment: l.Commitment, Salt: l.Salt}
	if l.OnLedger {
		i := l.LeafIndex
		j.LeafIndex = &i
	}
	j.Pending = l.Pending
	return j
}

// JSON renders p for an API response.
func (p Page) JSON() PageJSON {
	out := PageJSON{Entries: make([]EntryJSON, 0, len(p.Entries)), NextCursor: p.NextCursor}
	for _, l := range p.Entries {
		out.Entries = append(out.Entries, l.JSON())
	}
	return out
}

// Register adds the operator's view of the access log, behind admin:
//
//	GET /verifier/audit?from=&to=&outcome=&patient=&limit=&cursor=
//
// from and to are RFC 3339 times (from inclusive, to exclusive), outcome
// one of permit, deny, verified, failed, patient a pseudonym, limit 1 to
// 200 (default 50) and cursor the next_cursor of the previous page. It
// answers 200 {"entries": […], "next_cursor": "…"}, newest first, without
// salts; a bad parameter is a 400 problem naming it.
func (s *Service) Register(g *echo.Group, admin echo.MiddlewareFunc) {
	g.GET(PathAudit, func(c echo.Context) error {
		f, err := ParseFilter(c.Request().URL.Query())
		if err != nil {
			return err
		}
		p, err := s.List(c.Request().Context(), f)
		if errors.Is(err, ErrInvalidFilter) {
			// ParseFilter checked everything else.
			return httpx.BadRequest("cursor", "cursor is not one this server gave")
		}
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, p.JSON())
	}, admin)
}

// ParseFilter reads a Filter from the query parameters from, to, outcome,
// patient, limit and cursor. Errors are 400 *httpx.Error naming the
// parameter; unknown or repeated parameters are refused.
func ParseFilter(q url.Values) (Filter, error) {
	var f Filter
	for k, v := range q {
		switch k {
		case "from", "to", "outcome", "patient", "limit", "cursor":
		case "":
			return f, httpx.BadRequest("(query)", "a query parameter has no name")
		default:
			return f, httpx.BadRequest(truncate(k, 40), "unknown query parameter "+strconv.Quote(truncate(k, 40)))
		}
		if len(v) != 1 {
			return f, httpx.BadRequest(k, k+" is given more than once")
		}
	}
	var err error
	for _, name := range []string{"from", "to"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		t, perr := time.Parse(time.RFC3339Nano, v)
		if perr != nil {
			return f, httpx.BadRequest(name, name+" must be an RFC 3339 date-time")
		}
		if name == "from" {
			f.From = t
		} else {
			f.To = t
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, httpx.BadRequest("from", "from must be before to")
	}
	if v := q.Get("outcome"); v != "" {
		if f.Outcome = Outcome(v); !f.Outcome.Valid() {
			return f, httpx.BadRequest("outcome", "outcome must be permit, deny, verified or failed")
		}
	}
	if v := q.Get("patient"); v != "" {
		if !validPseudonym(v) {
			return f, httpx.BadRequest("patient", "patient must be a pseudonym (43 base64url characters)")
		}
		f.Patient = v
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > MaxLimit {
			return f, httpx.BadRequest("limit", "limit must be an integer from 1 to "+strconv.Itoa(MaxLimit))
		}
	}
	if v := q.Get("cursor"); v != "" {
		if len(v) > 200 {
			return f, httpx.BadRequest("cursor", "cursor is not one this server gave")
		}
		f.Cursor = v
	}
	return f, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
