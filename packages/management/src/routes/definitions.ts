/**
 * Definitions: GET and POST /api/definitions and /api/definitions/{vhost} (administrators only, as in RabbitMQ).
 * The document work is in ../definitions.ts; this file is the HTTP edge: download names, uploads, status codes.
 */
import type { ApiRequest, Routes } from '../app.js';
import { exportAll, exportVhost, importDefinitions, parseImport } from '../definitions.js';
import { badRequest, notFound } from '../http-error.js';
import { param } from '../list-query.js';
import { FormBody } from '../multipart.js';

/** The uploaded document: a JSON body, or the `file` field of a form (the UI and `curl -F file=@defs.json`). */
function uploadedDocument(req: ApiRequest): { doc: unknown; redirect?: string } {
  const body = req.body;
  if (!(body instanceof FormBody)) {
    if (body === undefined) throw badRequest('no definitions in the request body');
    return { doc: body };
  }
  const file = body.text('file');
  if (file === undefined) throw badRequest("form upload without a 'file' field");
  let doc: unknown;
  try {
    doc = JSON.parse(file);
  } catch (err) {
    throw badRequest(`Invalid JSON in the uploaded file: ${(err as Error).message}`);
  }
  const redirect = body.text('redirect');
  // Only a path on this server (the UI sends a relative one): never an open redirect to another site.
  if (redirect === undefined || redirect === '' || /^[a-z][a-z0-9+.-]*:|^\/\/|[\r\n\\]/i.test(redirect)) return { doc };
  return { doc, redirect };
}

/** `?download=name` as RabbitMQ answers it: an attachment of that name (kept to a safe header value). */
function downloadHeaders(req: ApiRequest): Record<string, string> | undefined {
  const name = param(req.query, 'download');
  if (name === undefined) return undefined;
  if (!/^[\x20-\x7e]*$/.test(name) || name.includes('"')) throw badRequest('download must be a plain file name');
  return { 'content-disposition': `attachment; filename=${name}` };
}

export function registerDefinitionRoutes(r: Routes): void {
  const { ctx } = r;

  r.resource('/api/definitions', {
    GET: (req) => {
      req.principal.requireAdmin();
      const headers = downloadHeaders(req);
      const body = exportAll(ctx);
      return headers === undefined ? body : { status: 200, body, headers };
    },
    POST: async (req) => {
      req.principal.requireAdmin();
      const { doc, redirect } = uploadedDocument(req);
      await importDefinitions(ctx, parseImport(doc), req.principal.user);
      return redirect === undefined ? undefined : { status: 303, headers: { location: redirect } };
    },
  });

  r.resource('/api/definitions/:vhost', {
    GET: (req) => {
      req.principal.requireAdmin();
      const vhost = req.params['vhost']!;
      if (ctx.broker.vhost(vhost) === undefined) throw notFound();
      const headers = downloadHeaders(req);
      const body = exportVhost(ctx, vhost);
      return headers === undefined ? body : { status: 200, body, headers };
    },
    POST: async (req) => {
      req.principal.requireAdmin();
      const vhost = req.params['vhost']!;
      if (ctx.broker.vhost(vhost) === undefined) throw notFound();
      const { doc, redirect } = uploadedDocument(req);
      await importDefinitions(ctx, parseImport(doc, vhost), req.principal.user);
      return redirect === undefined ? undefined : { status: 303, headers: { location: redirect } };
    },
  });
}
