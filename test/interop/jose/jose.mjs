// Independent check of medid's SD-JWT VCs (dc+sd-jwt, RFC 9901 and
// draft-ietf-oauth-sd-jwt-vc) with the OpenWallet Foundation's sd-jwt-js
// (@sd-jwt/sd-jwt-vc, @sd-jwt/core), and of its vc+jwt and jwt_vc_json
// credentials with panva's jose. Fully offline: no status list, type
// metadata or key is ever fetched; signatures are checked by node:crypto
// with the public JWKs given.
//
// Usage: node jose.mjs DIR
//
// DIR holds issuer.jwk.json and holder.jwk.json (public JWKs), holder.pk8
// (the holder's PKCS #8 DER private key, for the Key Binding JWTs this
// script makes) and input.json:
//   {"now": <unix seconds>,
//    "sdjwt":   [{name, presentation, nonce?, aud?}],
//        verify a presentation signed by issuer.jwk.json; with a nonce,
//        a Key Binding JWT signed by cnf.jwk is required and its nonce,
//        aud, iat and sd_hash are checked.
//    "jwt":     [{name, token, typ}],
//        verify a vc+jwt or jwt_vc_json with jose (ES256, typ, signature).
//    "present": [{name, credential, frame, nonce, aud}],
//        present an issued SD-JWT: disclose what the presentation frame
//        selects and add a Key Binding JWT (iat = now) signed with holder.pk8.
//    "issue":   [{name, format: "dc+sd-jwt"|"vc+jwt", payload, frame?, kid}]}
//        issue a credential with a fresh ES256 key; returned with its JWK.
// It prints {"sdjwt": [{name, verified, error?, header?, claims?, kb?}],
//            "jwt": [{name, verified, error?, header?, payload?}],
//            "presented": [{name, presentation}],
//            "issued": [{name, credential, jwk}]} on stdout.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {SDJwtVcInstance} from '@sd-jwt/sd-jwt-vc';
import * as jose from 'jose';

const dir = process.argv[2];
if(!dir) {
  console.error('usage: node jose.mjs DIR');
  process.exit(2);
}
const read = name => fs.readFileSync(path.join(dir, name));
const issuerJwk = JSON.parse(read('issuer.jwk.json'));
const holderJwk = JSON.parse(read('holder.jwk.json'));
const holderKey = crypto.createPrivateKey({key: read('holder.pk8'), format: 'der', type: 'pkcs8'});
const input = JSON.parse(read('input.json'));
const now = input.now;
// How old a Key Binding JWT may be, and how far in the future (seconds).
const KB_MAX_AGE = 300;
const SKEW = 60;

// ES256 over node:crypto: JOSE signatures are raw r||s (IEEE P1363).
function es256Verifier(jwk) {
  const key = crypto.createPublicKey({key: jwk, format: 'jwk'});
  return (data, sig) => crypto.verify('sha256', Buffer.from(data), {key, dsaEncoding: 'ieee-p1363'},
    Buffer.from(sig, 'base64url'));
}
function es256Signer(key) {
  return data => crypto.sign('sha256', Buffer.from(data), {key, dsaEncoding: 'ieee-p1363'}).toString('base64url');
}
function hasher(data, alg) {
  if(alg.toLowerCase() !== 'sha-256') {
    throw new Error(`unsupported _sd_alg ${alg}`);
  }
  return new Uint8Array(crypto.createHash('sha256').update(typeof data === 'string' ? data : Buffer.from(data)).digest());
}
const saltGenerator = n => crypto.randomBytes(n).toString('base64url');
const offline = () => {
  throw new Error('offline: no status list or type metadata is fetched');
};

function header(compact) {
  return JSON.parse(Buffer.from(compact.split('.')[0], 'base64url').toString('utf8'));
}

async function verifySDJWT(v) {
  const verify = es256Verifier(issuerJwk);
  const sd = new SDJwtVcInstance({
    hasher,
    verifier: (data, sig) => verify(data, sig),
    // The Key Binding JWT must be signed by the key the Issuer put in cnf.jwk.
    kbVerifier: (data, sig, payload) => {
      if(!payload || !payload.cnf || !payload.cnf.jwk) {
        throw new Error('no cnf.jwk to check the Key Binding JWT with');
      }
      return es256Verifier(payload.cnf.jwk)(data, sig);
    },
    statusListFetcher: offline,
    vctFetcher: offline
  });
  // sd-jwt-js leaves the Issuer-signed JWT's alg and typ to the caller.
  const h = header(v.presentation);
  if(h.alg !== 'ES256') {
    throw new Error(`issuer JWT alg ${h.alg}, want ES256`);
  }
  if(h.typ !== 'dc+sd-jwt') {
    throw new Error(`issuer JWT typ ${h.typ}, want dc+sd-jwt`);
  }
  const opts = {currentDate: now, skewSeconds: SKEW};
  if(v.nonce) {
    opts.keyBindingNonce = v.nonce;
  }
  const res = await sd.verify(v.presentation, opts);
  const out = {header: res.header, claims: res.payload};
  if(v.nonce) {
    // sd-jwt-js checks typ kb+jwt, the signature, nonce and sd_hash; RFC 9901
    // section 7.3 also has the Verifier check aud and iat, which it leaves to us.
    const kb = res.kb;
    if(!kb) {
      throw new Error('no Key Binding JWT');
    }
    if(kb.payload.aud !== v.aud) {
      throw new Error(`Key Binding JWT aud ${JSON.stringify(kb.payload.aud)}, want ${JSON.stringify(v.aud)}`);
    }
    if(typeof kb.payload.iat !== 'number' || kb.payload.iat > now + SKEW || kb.payload.iat < now - KB_MAX_AGE) {
      throw new Error(`Key Binding JWT iat ${kb.payload.iat} is not fresh`);
    }
    if(kb.header.alg !== 'ES256') {
      throw new Error(`Key Binding JWT alg ${kb.header.alg}, want ES256`);
    }
    out.kb = {header: kb.header, payload: kb.payload};
  }
  return out;
}

async function verifyJWT(v) {
  const key = await jose.importJWK(issuerJwk, 'ES256');
  const {payload, protectedHeader} = await jose.jwtVerify(v.token, key, {
    algorithms: ['ES256'], typ: v.typ, currentDate: new Date(now * 1000), clockTolerance: SKEW});
  return {header: protectedHeader, payload};
}

async function present(p) {
  const sd = new SDJwtVcInstance({hasher, kbSigner: es256Signer(holderKey), kbSignAlg: 'ES256'});
  return sd.present(p.credential, p.frame, {kb: {payload: {iat: now, aud: p.aud, nonce: p.nonce}}});
}

async function issue(s) {
  const {privateKey, publicKey} = crypto.generateKeyPairSync('ec', {namedCurve: 'P-256'});
  const jwk = publicKey.export({format: 'jwk'});
  if(s.format === 'dc+sd-jwt') {
    const sd = new SDJwtVcInstance({hasher, saltGenerator, signer: es256Signer(privateKey), signAlg: 'ES256'});
    const payload = {...s.payload, cnf: {jwk: holderJwk}};
    return {credential: await sd.issue(payload, s.frame, {header: {kid: s.kid}}), jwk};
  }
  const key = await jose.importJWK({...privateKey.export({format: 'jwk'}), alg: 'ES256'}, 'ES256');
  const credential = await new jose.SignJWT(s.payload)
    .setProtectedHeader({alg: 'ES256', typ: s.format, kid: s.kid})
    .sign(key);
  return {credential, jwk};
}

const message = e => String((e && e.message) || e);
const out = {sdjwt: [], jwt: [], presented: [], issued: []};

for(const v of input.sdjwt || []) {
  try {
    out.sdjwt.push({name: v.name, verified: true, ...await verifySDJWT(v)});
  } catch(e) {
    out.sdjwt.push({name: v.name, verified: false, error: message(e)});
  }
}
for(const v of input.jwt || []) {
  try {
    out.jwt.push({name: v.name, verified: true, ...await verifyJWT(v)});
  } catch(e) {
    out.jwt.push({name: v.name, verified: false, error: `${e && e.code}: ${message(e)}`});
  }
}
for(const p of input.present || []) {
  out.presented.push({name: p.name, presentation: await present(p)});
}
for(const s of input.issue || []) {
  out.issued.push({name: s.name, ...await issue(s)});
}

process.stdout.write(JSON.stringify(out, null, 2) + '\n');
