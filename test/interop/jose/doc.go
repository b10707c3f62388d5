// Package jose checks medid's SD-JWT VCs (credentials/sdjwt, dc+sd-jwt) and
// JWT credentials (credentials/jwtvc, vc+jwt and jwt_vc_json) against
// independent implementations run by node on jose.mjs: the OpenWallet
// Foundation's sd-jwt-js (@sd-jwt/sd-jwt-vc, @sd-jwt/core) and panva's jose,
// with signatures checked by node:crypto. Node verifies what we issue and
// present, presents and issues credentials that we then verify, and must
// refuse tampered credentials and Key Binding JWTs for another nonce or
// audience.
//
// Install the pinned Node packages (package-lock.json) with
//
//	npm ci --prefix test/interop/jose
//
// The test skips when test/interop/jose/node_modules is absent, unless
// CI=true, in which case it fails.
package jose
