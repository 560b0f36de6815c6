/**
 * Policies and operator policies: /api/policies, /api/policies/{vhost}, /api/policies/{vhost}/{name}, and the same
 * under /api/operator-policies. Policies need the policymaker (or administrator) tag and access to the vhost; operator
 * policies are the administrator's (rabbit_mgmt_wm_operator_policies).
 */
import { policyToJson, PolicyValidationError, type Broker, type Policy } from '@warren/core';
import type { ApiRequest, Routes } from '../app.js';
import { objectBody } from '../app.js';
import { durably } from '../core-ops.js';
import { HttpError, notFound } from '../http-error.js';
import { answerList, answerOne } from '../list-query.js';
import { checkName } from './vhosts.js';

/**
 * RabbitMQ's 400 for a runtime parameter refused by validation: "Validation failed\n\n<reason>\n". The policy handler
 * HTML-escapes the reason (the recorded 3.10 answer reads `&lt;&lt;"lots"&gt;&gt;`); the limits handlers do not.
 */
export function validationFailed(reason: string, escape: boolean): HttpError {
  const text = escape ? reason.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : reason;
  return new HttpError(400, 'bad_request', `Validation failed\n\n${text}\n`);
}

function policiesOf(broker: Broker, vhost: string, operator: boolean): Policy[] {
  const v = broker.vhost(vhost);
  if (v === undefined) return [];
  return [...(operator ? v.operatorPolicies : v.policies).values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function registerPolicyRoutes(r: Routes): void {
  const { ctx } = r;
  const broker = ctx.broker;

  for (const operator of [false, true]) {
    const base = operator ? '/api/operator-policies' : '/api/policies';
    const authorize = (req: ApiRequest, vhost?: string): void => {
      if (operator) req.principal.requireAdmin();
      else if (vhost !== undefined) req.principal.requirePolicymaker(vhost);
      else if (!req.principal.isPolicymaker) req.principal.requirePolicymaker('/');
    };
    const list = (req: ApiRequest, vhosts: string[]) =>
      answerList(
        req.query,
        vhosts.sort().flatMap((v) => policiesOf(broker, v, operator)),
        (p) => policyToJson(p),
        (p) => p.name,
      );

    r.resource(base, {
      GET: (req) => {
        authorize(req);
        return list(req, broker.vhostNames().filter((v) => req.principal.isAdmin || req.principal.canUseVhost(v)));
      },
    });

    r.resource(`${base}/:vhost`, {
      GET: (req) => {
        const vhost = req.params['vhost']!;
        if (broker.vhost(vhost) === undefined) throw notFound();
        authorize(req, vhost);
        return list(req, [vhost]);
      },
    });

    r.resource(`${base}/:vhost/:name`, {
      GET: (req) => {
        const { vhost, name } = req.params as { vhost: string; name: string };
        authorize(req, vhost);
        const p = (operator ? broker.vhost(vhost)?.operatorPolicies : broker.vhost(vhost)?.policies)?.get(name);
        if (p === undefined) throw notFound();
        return answerOne(req.query, policyToJson(p));
      },
      PUT: async (req) => {
        const { vhost, name } = req.params as { vhost: string; name: string };
        if (broker.vhost(vhost) === undefined) throw notFound();
        authorize(req, vhost);
        checkName('policy', name);
        const body = objectBody(req);
        const created = await durably(ctx, () => {
          try {
            return broker.setPolicy(vhost, name, body, operator);
          } catch (err) {
            if (err instanceof PolicyValidationError) throw validationFailed(err.message, true);
            throw err;
          }
        });
        return { status: created ? 201 : 204 };
      },
      DELETE: async (req) => {
        const { vhost, name } = req.params as { vhost: string; name: string };
        authorize(req, vhost);
        const deleted = await durably(ctx, () => broker.clearPolicy(vhost, name, operator));
        if (!deleted) throw notFound();
        return undefined;
      },
    });
  }
}
