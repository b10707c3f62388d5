package issuer

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/credentials/status"
	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/httpx"
)

// Register adds the status routes: the admin API over issued credentials
// and the public, signed token status lists.
func (s *Status) Register(e *echo.Group, admin echo.MiddlewareFunc) {
	e.GET("/issuer/credentials", func(c echo.Context) error {
		idx := -1
		if q := c.QueryParam("status_index"); q != "" {
			n, err := strconv.Atoi(q)
			if err != nil || n < 0 {
				return httpx.BadRequest("status_index", "must be a non-negative integer")
			}
			idx = n
		}
		q := c.QueryParams()
		var page RecordPage
		var err error
		if !q.Has("limit") && !q.Has("cursor") {
			// Unpaged, as before paging existed: every record.
			page.Records, err = s.Records(c.Request().Context(), idx)
		} else {
			limit := DefaultRecordsLimit
			if q.Has("limit") {
				n, cerr := strconv.Atoi(q.Get("limit"))
				if cerr != nil || n < 1 || n > MaxRecordsLimit {
					return httpx.BadRequest("limit", "must be an integer from 1 to "+strconv.Itoa(MaxRecordsLimit))
				}
				limit = n
			}
			page, err = s.RecordsPage(c.Request().Context(), idx, limit, q.Get("cursor"))
		}
		if errors.Is(err, ErrBadCursor) {
			return httpx.BadRequest("cursor", "not a next_cursor this server gave")
		}
		if err != nil {
			return err
		}
		if page.Records == nil {
			page.Records = []Record{}
		}
		return c.JSON(http.StatusOK, page)
	}, admin)
	e.POST("/issuer/credentials/:id/status", func(c echo.Context) error {
		var req struct {
			Action string `json:"action"`
		}
		if err := httpx.DecodeJSON(c.Request(), 4<<10, &req); err != nil {
			return err
		}
		switch req.Action {
		case "revoke", "suspend", "reinstate":
		default:
			return httpx.BadRequest("action", "must be revoke, suspend or reinstate")
		}
		id, err := url.PathUnescape(c.Param("id"))
		if err != nil {
			return httpx.BadRequest("id", "malformed credential id")
		}
		r, err := s.Change(c.Request().Context(), id, req.Action)
		switch {
		case errors.Is(err, ErrNoRecord):
			return httpx.NotFound("no credential with that id")
		case errors.Is(err, ErrStatusTransition):
			e := httpx.Conflict(err.Error())
			e.Field = "action"
			return e
		case err != nil:
			return err
		}
		return c.JSON(http.StatusOK, r)
	}, admin)
	// Status lists are public documents that any verifier fetches,
	// browser-based ones included.
	e.GET("/status/token/:id", serveList(s.TokenList, tokenlist.MediaType), httpx.PublicCORS(""))
	e.GET("/status/bitstring/:id", serveList(s.BitstringCredential, "application/vc+jwt"), httpx.PublicCORS(""))
}

// serveList serves a signed status list with its ETag. Verifiers cache by
// the list's own ttl; HTTP caches must revalidate (no-cache), so a change
// is visible on the next fetch.
func serveList(get func(ctx context.Context, listID string) (string, string, error), mediaType string) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok, etag, err := get(c.Request().Context(), c.Param("id"))
		if errors.Is(err, status.ErrUnknownList) {
			return httpx.NotFound("no such status list")
		}
		if err != nil {
			return err
		}
		h := c.Response().Header()
		h.Set("ETag", etag)
		h.Set("Cache-Control", "no-cache")
		if match := c.Request().Header.Get("If-None-Match"); match != "" && match == etag {
			return c.NoContent(http.StatusNotModified)
		}
		return c.Blob(http.StatusOK, mediaType, []byte(tok))
	}
}
