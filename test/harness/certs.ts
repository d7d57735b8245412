import crypto from 'node:crypto';
import forge from 'node-forge';

/** PEM key and certificate for a test TLS server. */
export interface KeyPair {
  key: string;
  cert: string;
}

export interface TestPki {
  /** The CA the worker trusts through NODE_EXTRA_CA_CERTS. */
  caCert: string;
  /** 127.0.0.1 and localhost, signed by the trusted CA. */
  good: KeyPair;
  /** Self-signed, for 127.0.0.1. */
  selfSigned: KeyPair;
  /** Signed by the trusted CA, expired yesterday. */
  expired: KeyPair;
  /** Signed by the trusted CA for another host name. */
  wrongHost: KeyPair;
  /** Signed by a CA nobody trusts. */
  unknownIssuer: KeyPair;
}

function rsaKeys(): {
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
  pem: string;
} {
  // Node's native key generation is far faster than forge's pure-JS one.
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem);
  return { privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), pem };
}

let serial = 1;

function makeCert(opts: {
  subjectCn: string;
  publicKey: forge.pki.rsa.PublicKey;
  signer: forge.pki.rsa.PrivateKey;
  issuer?: forge.pki.Certificate;
  isCa?: boolean;
  altNames?: { ip?: string; dns?: string }[];
  notBefore?: Date;
  notAfter?: Date;
}): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = opts.publicKey;
  cert.serialNumber = (serial++).toString(16).padStart(2, '0');
  const day = 24 * 3600 * 1000;
  cert.validity.notBefore = opts.notBefore ?? new Date(Date.now() - day);
  cert.validity.notAfter = opts.notAfter ?? new Date(Date.now() + 30 * day);
  const subject = [{ name: 'commonName', value: opts.subjectCn }];
  cert.setSubject(subject);
  cert.setIssuer(opts.issuer ? opts.issuer.subject.attributes : subject);
  const ext: object[] = [{ name: 'basicConstraints', cA: Boolean(opts.isCa) }];
  if (opts.isCa) ext.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true });
  else {
    ext.push({ name: 'keyUsage', digitalSignature: true, keyEncipherment: true });
    ext.push({ name: 'extKeyUsage', serverAuth: true });
    ext.push({
      name: 'subjectAltName',
      altNames: (opts.altNames ?? []).map((a) => (a.ip ? { type: 7, ip: a.ip } : { type: 2, value: a.dns })),
    });
  }
  cert.setExtensions(ext);
  cert.sign(opts.signer, forge.md.sha256.create());
  return cert;
}

const LOCAL = [{ ip: '127.0.0.1' }, { dns: 'localhost' }];

/** Generates a CA and the server certificates the tests need, in memory. */
export function createTestPki(): TestPki {
  const ca = rsaKeys();
  const caCert = makeCert({
    subjectCn: 'hookflow test CA',
    publicKey: ca.publicKey,
    signer: ca.privateKey,
    isCa: true,
  });
  const rogue = rsaKeys();
  const rogueCert = makeCert({
    subjectCn: 'untrusted CA',
    publicKey: rogue.publicKey,
    signer: rogue.privateKey,
    isCa: true,
  });
  const leaf = (
    signer: { privateKey: forge.pki.rsa.PrivateKey },
    issuer: forge.pki.Certificate | undefined,
    extra: Partial<Parameters<typeof makeCert>[0]> = {},
  ): KeyPair => {
    const k = rsaKeys();
    const cert = makeCert({
      subjectCn: '127.0.0.1',
      publicKey: k.publicKey,
      signer: signer.privateKey,
      issuer,
      altNames: LOCAL,
      ...extra,
    });
    return { key: k.pem, cert: forge.pki.certificateToPem(cert) };
  };
  const selfKeys = rsaKeys();
  const selfCert = makeCert({
    subjectCn: '127.0.0.1',
    publicKey: selfKeys.publicKey,
    signer: selfKeys.privateKey,
    altNames: LOCAL,
  });
  const day = 24 * 3600 * 1000;
  return {
    caCert: forge.pki.certificateToPem(caCert),
    good: leaf(ca, caCert),
    selfSigned: { key: selfKeys.pem, cert: forge.pki.certificateToPem(selfCert) },
    expired: leaf(ca, caCert, {
      notBefore: new Date(Date.now() - 10 * day),
      notAfter: new Date(Date.now() - day),
    }),
    wrongHost: leaf(ca, caCert, { subjectCn: 'other.example', altNames: [{ dns: 'other.example' }] }),
    unknownIssuer: leaf(rogue, rogueCert),
  };
}
