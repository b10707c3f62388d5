package httpx

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// RateLimiter limits requests per client address with a token bucket each.
// Idle buckets are forgotten so memory stays bounded.
type RateLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewRateLimiter allows perSecond sustained requests with burst per client.
func NewRateLimiter(perSecond float64, burst int) *RateLimiter {
	return &RateLimiter{limit: rate.Limit(perSecond), burst: burst, now: time.Now, clients: map[string]*bucket{}}
}

// Allow reports whether client may make a request now.
func (l *RateLimiter) Allow(client string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.clients {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	b, ok := l.clients[client]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.clients[client] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// Middleware refuses requests over the limit with 429 and Retry-After.
// The client is identified by the connection's remote address (proxies are
// not trusted unless echo's IPExtractor is configured to).
func (l *RateLimiter) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !l.Allow(ClientAddr(c)) {
				return &Error{Status: http.StatusTooManyRequests, Kind: "rate-limited", Title: "Too many requests",
					Detail: "too many requests from this client; retry later", RetryAfter: 1}
			}
			return next(c)
		}
	}
}

// ClientAddr is the client's IP address as echo sees it.
func ClientAddr(c echo.Context) string {
	ip := c.RealIP()
	if host, _, err := net.SplitHostPort(ip); err == nil {
		return host
	}
	return ip
}
