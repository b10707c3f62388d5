// Package qrcode renders links (credential offers, presentation requests)
// as QR codes in PNG and SVG, for wallets to scan. Encoding is rsc.io/qr's;
// this package adds the quiet zone and the SVG form.
package qrcode

import (
	"bytes"
	"fmt"
	"image/png"
	"strings"

	"rsc.io/qr"
)

// quiet is the quiet zone around the code, in modules (ISO 18004 asks for 4).
const quiet = 4

// PNG renders text as a PNG with scale pixels per module.
func PNG(text string, scale int) ([]byte, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, err
	}
	c.Scale = scale
	var b bytes.Buffer
	if err := png.Encode(&b, c.Image()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// SVG renders text as an SVG whose dark modules are one path.
func SVG(text string) ([]byte, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, err
	}
	n := c.Size + 2*quiet
	var p strings.Builder
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; x++ {
			if c.Black(x, y) {
				fmt.Fprintf(&p, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	return []byte(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`+
		`<rect width="100%%" height="100%%" fill="#fff"/><path fill="#000" d="%s"/></svg>`, n, n, p.String())), nil
}
