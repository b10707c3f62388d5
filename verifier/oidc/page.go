package oidc

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// The authorize page: the QR code for a wallet on another device, the
// link for one on this device, and a small script that polls the status
// and continues once the wallet has answered. Its URLs are in data
// attributes so the script needs no template interpolation.
var authorizePage = template.Must(template.New("authorize").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Sign in with your health wallet</title>
<style nonce="{{.Nonce}}">
body{font-family:system-ui,sans-serif;margin:0;padding:2rem;background:#f6f7f9;color:#1b1f24}
main{max-width:28rem;margin:0 auto;background:#fff;padding:2rem;border-radius:8px;text-align:center}
img{width:18rem;height:18rem;image-rendering:pixelated}
a.button{display:inline-block;margin:1rem 0;padding:.75rem 1.25rem;background:#0b5cad;color:#fff;border-radius:6px;text-decoration:none}
#status{color:#555}
</style>
</head>
<body>
<main id="signin" data-status="{{.StatusURL}}" data-complete="{{.CompleteURL}}" data-interval="{{.IntervalMS}}">
<h1>Sign in to {{.ClientName}}</h1>
<p>Scan this code with your health wallet to share your name and date of birth.</p>
<img id="qr" src="{{.QRCode}}" alt="QR code with the presentation request for your wallet">
<p><a class="button" id="same-device" href="{{.Link}}">Open my wallet on this device</a></p>
<p id="status" role="status">Waiting for your wallet…</p>
<noscript><p>When your wallet has answered, <a href="{{.CompleteURL}}">continue</a>.</p></noscript>
</main>
<script nonce="{{.Nonce}}">
(function () {
  var m = document.getElementById("signin");
  var every = parseInt(m.dataset.interval, 10) || 2000;
  function poll() {
    fetch(m.dataset.status, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (j.status === "pending") { setTimeout(poll, every); return; }
        document.getElementById("status").textContent = j.status === "verified" ? "Verified. Continuing…" : "The sign-in did not succeed.";
        window.location.assign(m.dataset.complete);
      })
      .catch(function () { setTimeout(poll, every * 2); });
  }
  setTimeout(poll, every);
})();
</script>
</body>
</html>
`))

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in error</title>
<style nonce="{{.Nonce}}">
body{font-family:system-ui,sans-serif;margin:0;padding:2rem;background:#f6f7f9;color:#1b1f24}
main{max-width:28rem;margin:0 auto;background:#fff;padding:2rem;border-radius:8px}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p id="error" data-error="{{.Code}}">{{.Message}}</p>
</main>
</body>
</html>
`))

// browserHeaders sets the security headers of the browser routes: a CSP
// that allows only our nonce'd script and style, images and fetches from
// this origin; no framing; no caching; no referrer.
func browserHeaders(h http.Header, nonce, imgOrigin string) {
	img := "'self'"
	if imgOrigin != "" {
		img += " " + imgOrigin
	}
	h.Set("Content-Security-Policy", "default-src 'none'; img-src "+img+"; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+
		"'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// origin is scheme://host of u, or "".
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

// renderAuthorize writes the authorize page of t.
func (p *Provider) renderAuthorize(c echo.Context, t *Transaction) error {
	nonce := randomToken(16)
	browserHeaders(c.Response().Header(), nonce, origin(t.QRCodePNG))
	var b bytes.Buffer
	err := authorizePage.Execute(&b, map[string]any{
		"Nonce": nonce, "ClientName": t.ClientName, "StatusURL": t.StatusURL, "CompleteURL": t.CompleteURL,
		"QRCode": t.QRCodePNG, "IntervalMS": p.opt.PollInterval.Milliseconds(),
		// The link is ours (the OpenID4VP service built it); its scheme is
		// openid4vp, which html/template would otherwise neutralise.
		"Link": template.URL(t.Link),
	})
	if err != nil {
		return err
	}
	return c.HTMLBlob(http.StatusOK, b.Bytes())
}

// renderError writes the error page.
func renderError(c echo.Context, status int, code, title, message string) error {
	nonce := randomToken(16)
	browserHeaders(c.Response().Header(), nonce, "")
	var b bytes.Buffer
	if err := errorPage.Execute(&b, map[string]any{"Nonce": nonce, "Title": title, "Code": code, "Message": message}); err != nil {
		return err
	}
	return c.HTMLBlob(status, b.Bytes())
}
