package app

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/medid/medid/did/didhttp"
	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/ledger"
	"github.com/medid/medid/openapi"
)

// registrationRate is the sustained client-managed registration rate per
// client address (burst 20).
const registrationRate = 5

func (a *App) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// Rate limits key on the connection's address: X-Forwarded-For is not
	// trusted unless a deployment configures a trusted proxy.
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = httpx.ErrorHandler(a.Log)
	// Web wallets on the configured origins call the wallet API from the
	// browser; preflights are answered before routing.
	e.Pre(httpx.CORS("/wallet/", a.Config.WalletOrigins, "GET, POST, DELETE", "Authorization, Content-Type",
		"Location, Retry-After, WWW-Authenticate"))
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{}))
	e.Use(middleware.Recover())
	// 1 MB for every body but a wallet backup being restored, which the
	// wallet bounds itself (walletapi.MaxArchive).
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "1M",
		Skipper: func(c echo.Context) bool { return c.Path() == "/wallet/import" }}))
	e.Use(a.metricsMiddleware())

	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", a.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{})))
	e.GET("/openapi.yaml", echo.WrapHandler(openapi.Handler()))

	lh := http.StripPrefix("/ledger", ledger.Handler(a.Ledger))
	// Anyone may audit the ledger, from a browser too.
	e.GET("/ledger/*", echo.WrapHandler(lh), httpx.PublicCORS(""))
	e.HEAD("/ledger/*", echo.WrapHandler(lh), httpx.PublicCORS(""))

	root := e.Group("")
	didhttp.Register(root, a.Resolver)
	a.Registrar.Register(root, a.adminToken, httpx.NewRateLimiter(registrationRate, 20))
	admin := httpx.AdminAuth(a.adminToken)
	a.Issuer.Register(root, admin, validateClaims)
	a.Status.Register(root, admin)
	a.VCAPI.Register(root, admin)
	a.Verifier.Register(root, admin)
	a.Trust.Register(root, admin)
	a.Presentations.Register(root, admin)
	a.OIDC.Register(root, admin)
	a.Audit.Register(root, admin)
	a.Access.Register(root, admin)
	a.Wallet.Register(root)
	a.registerCredentialDocuments(e)
	return e
}

func (a *App) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if _, err := a.Store.Get(ctx, "readyz-probe"); err != nil && !errors.Is(err, kv.ErrNotFound) {
		return httpx.Unavailable("store unreachable", 5, err)
	}
	if _, err := a.Ledger.Checkpoint(ctx); err != nil {
		return httpx.Unavailable("ledger has no readable checkpoint", 5, err)
	}
	if err := a.Audit.Healthy(); err != nil {
		return httpx.Unavailable("the access log's journal could not be written: verifications fail until a restart", 5, err)
	}
	return c.String(http.StatusOK, "ready\n")
}

type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(a *App) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medid_http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "medid_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"route"})
	size := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "medid_ledger_checkpoint_size", Help: "Size of the latest published ledger checkpoint.",
	}, func() float64 {
		if a.Ledger == nil {
			return 0
		}
		cp, err := a.Ledger.Checkpoint(context.Background())
		if err != nil {
			return 0
		}
		return float64(cp.Size)
	})
	m.reg.MustRegister(m.requests, m.latency, size,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(a.accessLogMetrics()...)
	return m
}

// accessLogMetrics are the series that explain the latency of logged
// requests: the access log's journal syncs and health, its commitments
// waiting for the ledger, and the ledger's appends.
func (a *App) accessLogMetrics() []prometheus.Collector {
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "medid_audit_commitments_pending", Help: "Access-log commitments queued for the ledger or being appended.",
		}, func() float64 { return float64(a.Audit.Pending()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "medid_audit_healthy", Help: "1 while the access log takes entries; 0 once its journal could not be written (restart needed).",
		}, func() float64 {
			if a.Audit.Healthy() != nil {
				return 0
			}
			return 1
		}),
	}
	for _, m := range []struct {
		name, help string
		counter    bool
		value      func(ledger.Stats) uint64
	}{
		{"medid_ledger_appended_total", "Entries appended to the ledger.", true, func(s ledger.Stats) uint64 { return s.Appended }},
		{"medid_ledger_append_errors_total", "Ledger appends that failed.", true, func(s ledger.Stats) uint64 { return s.AppendErrors }},
		{"medid_ledger_pushbacks_total", "Ledger appends refused because too many were in flight.", true, func(s ledger.Stats) uint64 { return s.Pushbacks }},
		{"medid_ledger_appends_outstanding", "Ledger appends queued or being sequenced.", false, func(s ledger.Stats) uint64 { return uint64(max(s.Outstanding, 0)) }},
	} {
		f := func() float64 {
			if a.Ledger == nil {
				return 0
			}
			return float64(m.value(a.Ledger.Stats()))
		}
		if m.counter {
			cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help}, f))
		} else {
			cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: m.name, Help: m.help}, f))
		}
	}
	if a.journalSync != nil {
		cs = append(cs, a.journalSync)
	}
	return cs
}

func (a *App) metricsMiddleware() echo.MiddlewareFunc {
	a.metrics = newMetrics(a)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			code := c.Response().Status
			if err != nil {
				code = httpx.AsErrorStatus(err)
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			a.metrics.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			a.metrics.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
			return err
		}
	}
}
