/**
 * The operator gate of the operators' pages (`/status`, `/status.json`, `/metrics`).
 *
 * With no operator token configured everything is open (development). With one, a request passes
 * when it carries the token as `x-operator-token` (scripts) or `Authorization: Bearer …`
 * (Prometheus' `authorization` scrape setting), or the operator cookie. A browser gets that cookie
 * by opening a page once with `?token=…`: the answer sets it (HttpOnly, SameSite=Strict) and
 * redirects to the same URL without the token, so the token does not stay in the address bar or
 * the history. Anything else is answered 401, naming what to send and never echoing what was sent.
 */
import { sameSecret } from '../security/router-auth.js';
import { createHmac } from 'node:crypto';
import type { RequestHandler } from 'express';

/** Name of the cookie a browser keeps after `?token=`. */
export const OPERATOR_COOKIE = 'wsz_operator';


/** The cookie value: derived from the token, so the cookie never holds the token itself. */
function cookieValue(token: string): string {
  return createHmac('sha256', token).update('wsz-operator-cookie').digest('base64url');
}

function cookieFrom(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === OPERATOR_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

/**
 * Express middleware letting operators through (see the module comment); `token` undefined lets
 * every request through.
 */
export function operatorGate(token: string | undefined): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  const cookie = cookieValue(token);
  return (req, res, next) => {
    const header = req.headers['x-operator-token'];
    if (sameSecret(header, token) || sameSecret(bearer(req.headers.authorization), token) || sameSecret(cookieFrom(req.headers.cookie), cookie)) {
      next();
      return;
    }
    const query = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (query !== undefined && sameSecret(query, token) && req.method === 'GET') {
      const url = new URL(req.originalUrl, 'http://local');
      url.searchParams.delete('token');
      res
        .cookie(OPERATOR_COOKIE, cookie, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' })
        .set('cache-control', 'no-store')
        .redirect(303, url.pathname + url.search);
      return;
    }
    const reason = query !== undefined || header !== undefined || req.headers.authorization !== undefined ? 'the operator token sent is not the configured one' : 'the operator token is required';
    const hint = 'send it as the x-operator-token header (or Authorization: Bearer), or open the page once with ?token=<OPERATOR_TOKEN>';
    res.status(401).set('cache-control', 'no-store');
    if (req.accepts(['json', 'html']) === 'html') {
      res.type('html').send(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Operator token required</title></head><body><h1>401: ${reason}</h1><p>${hint}.</p></body></html>`);
    } else {
      res.json({ error: { code: 'UNAUTHORIZED', message: `${reason}: ${hint}` } });
    }
  };
}
