import type { RequestHandler } from 'express';

/**
 * The Content-Security-Policy of every answer (pages and JSON alike). Scripts come only from this
 * site's `/assets/` bundles: no inline script, no `eval`, no inline event handlers, so markup that
 * slipped through escaping could not run. Page data travels in `<script type="application/json">`
 * blocks, which are never executed and so need no exception.
 *
 * `style-src` allows `'unsafe-inline'` for styles only: the layout and builder pages carry their
 * CSS in `<style>` blocks and a few `style` attributes, and CodeMirror (the webhook body editor)
 * injects `<style>` elements at run time. Inline CSS cannot run script.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Security headers on every answer: the CSP above; `nosniff`, so a JSON answer or an endpoint's
 * text is never run as script or styles; no `Referer` to other sites (page URLs carry flow ids and
 * filters); and no framing by any site (`frame-ancestors 'none'`, with `X-Frame-Options` for
 * browsers that predate it), against clickjacking of Resend or Delete buttons.
 */
export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  next();
};
