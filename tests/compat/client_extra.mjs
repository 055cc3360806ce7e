// What shared/bench/backstage/client-check.mjs does not exercise, through the official
// @backstage/catalog-client, against a catalog server loaded with gen_catalog.py's catalog
// (N=1000) and allowed to read WEB_URL (a local HTTP server with repo/catalog-info.yaml).
//
//   BASE_URL=http://127.0.0.1:7007 BENCH_TOKEN=... WEB_URL=http://127.0.0.1:8088 node client_extra.mjs
//
// Prints one JSON document of results that do not depend on the server's random uids, so the
// output of a real Backstage and of greenroom can be compared (tests/compat/golden/client/).
// Exits non-zero when the client throws where it must not, or an expectation fails.
import { CatalogClient } from '@backstage/catalog-client';

const BASE_URL = (process.env.BASE_URL ?? 'http://127.0.0.1:7007').replace(/\/$/, '');
const TOKEN = process.env.BENCH_TOKEN ?? 'bench-static-token-0123456789abcdef0123456789';
const WEB_URL = (process.env.WEB_URL ?? 'http://127.0.0.1:8088').replace(/\/$/, '');

const UUID = /[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/g;

const discoveryApi = { getBaseUrl: async pluginId => `${BASE_URL}/api/${pluginId}` };
const wire = [];
const fetchApi = {
  fetch: (input, init = {}) => {
    const headers = new Headers(init.headers ?? {});
    headers.set('Authorization', `Bearer ${TOKEN}`);
    const url = new URL(typeof input === 'string' ? input : input.url);
    const path = url.pathname.replace(/^\/api\/catalog/, '').replace(UUID, '<uuid>');
    wire.push(`${init.method ?? 'GET'} ${path}`);
    return fetch(input, { ...init, headers });
  },
};
const client = new CatalogClient({ discoveryApi, fetchApi });

const refOf = e =>
  e ? `${e.kind.toLowerCase()}:${(e.metadata.namespace ?? 'default').toLowerCase()}/${e.metadata.name.toLowerCase()}` : null;
const hasQuery = cursor => 'query' in JSON.parse(atob(cursor));
const sleep = ms => new Promise(r => setTimeout(r, ms));

function expect(cond, msg) {
  if (!cond) throw new Error(`expectation failed: ${msg}`);
}

// A thrown ResponseError, reduced to what both servers must agree on.
async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    return {
      name: e.name,
      status: e.response?.status ?? null,
      error: e.body?.error ? { name: e.body.error.name, message: e.body.error.message.replace(UUID, '<uuid>') } : null,
    };
  }
  throw new Error('expected the call to fail');
}

function withoutVolatile(entity) {
  if (!entity) return entity;
  const copy = structuredClone(entity);
  if (copy.metadata) {
    delete copy.metadata.uid;
    delete copy.metadata.etag;
  }
  return copy;
}

async function waitFor(what, probe, ms = 120000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

async function queryWalk(out) {
  // Filtered query, sorted by name: the cursors carry the filter as `query`, so the client
  // sends every later page as POST /entities/by-query.
  const request = {
    filter: { kind: 'Component', 'spec.type': 'service' },
    orderFields: { field: 'metadata.name', order: 'asc' },
    fields: ['kind', 'metadata.name', 'metadata.namespace', 'spec.type'],
    limit: 40,
  };
  const all = await client.getEntities({ filter: request.filter, fields: ['kind', 'metadata.name'] });
  const expected = all.items.map(e => refOf(e)).sort();
  const first = await client.queryEntities(request);
  const pages = [first];
  while (pages.at(-1).pageInfo.nextCursor) {
    expect(hasQuery(pages.at(-1).pageInfo.nextCursor), 'a filtered cursor carries the query');
    pages.push(await client.queryEntities({ cursor: pages.at(-1).pageInfo.nextCursor, limit: request.limit, fields: request.fields }));
  }
  const forward = pages.flatMap(p => p.items.map(refOf));
  expect(JSON.stringify(forward) === JSON.stringify(expected), 'forward walk lists every match once, in name order');
  expect(pages.every(p => p.items.every(e => e.kind === 'Component' && e.spec.type === 'service' && !e.relations)),
    'pages keep the filter and the fields');
  // ... and back again with prevCursor, from the last page to the first.
  const back = [pages.at(-1)];
  while (back.at(-1).pageInfo.prevCursor) {
    back.push(await client.queryEntities({ cursor: back.at(-1).pageInfo.prevCursor, limit: request.limit, fields: request.fields }));
  }
  const backward = back.slice().reverse().flatMap(p => p.items.map(refOf));
  expect(JSON.stringify(backward) === JSON.stringify(expected), 'backward walk lists every match once');
  out.queryEntitiesFilterWalk = {
    totalItems: first.totalItems,
    pageCount: pages.length,
    forwardPages: pages.map(p => ({
      refs: p.items.map(refOf),
      totalItems: p.totalItems,
      next: !!p.pageInfo.nextCursor,
      prev: !!p.pageInfo.prevCursor,
    })),
    backwardPages: back.map(p => ({
      refs: p.items.map(refOf),
      next: !!p.pageInfo.nextCursor,
      prev: !!p.pageInfo.prevCursor,
    })),
    firstItem: first.items[0],
  };

  // Predicate query (POST from the first page), with full-text search on a field.
  const predicate = await client.queryEntities({
    query: { $all: [{ kind: 'component' }, { 'spec.lifecycle': { $in: ['production', 'deprecated'] } }] },
    fullTextFilter: { term: 'pay', fields: ['metadata.name'] },
    orderFields: [{ field: 'metadata.name', order: 'desc' }],
    fields: ['metadata.name', 'spec.lifecycle'],
    limit: 5,
  });
  const predicate2 = predicate.pageInfo.nextCursor
    ? await client.queryEntities({ cursor: predicate.pageInfo.nextCursor, limit: 5, fields: ['metadata.name', 'spec.lifecycle'] })
    : null;
  out.queryEntitiesPredicate = {
    totalItems: predicate.totalItems,
    page1: predicate.items,
    page1Cursors: { next: !!predicate.pageInfo.nextCursor, prev: !!predicate.pageInfo.prevCursor },
    page2: predicate2?.items ?? null,
    page2Cursors: predicate2 ? { next: !!predicate2.pageInfo.nextCursor, prev: !!predicate2.pageInfo.prevCursor } : null,
  };

  // Unfiltered query: its cursor has no `query`, so the client pages with GET ?cursor=.
  const unfiltered = await client.queryEntities({ orderFields: { field: 'metadata.name', order: 'asc' }, limit: 3, fields: ['metadata.name'] });
  expect(!hasQuery(unfiltered.pageInfo.nextCursor), 'an unfiltered cursor has no query');
  const unfiltered2 = await client.queryEntities({ cursor: unfiltered.pageInfo.nextCursor, limit: 3, fields: ['metadata.name'] });
  out.queryEntitiesUnfiltered = {
    totalItems: unfiltered.totalItems,
    page1: unfiltered.items,
    page2: unfiltered2.items,
    page2Total: unfiltered2.totalItems,
  };
}

async function byRefs(out, component, group) {
  const refs = [
    component,
    'component:default/this-does-not-exist',
    group,
    `Component:Default/${component.split('/')[1].toUpperCase()}`, // refs are compared lowercased
    component.replace('component:default/', ''), // no kind: not defaulted by the server
    component.replace('component:default/', 'component:'), // no namespace: not defaulted either
  ];
  const projected = await client.getEntitiesByRefs({ entityRefs: refs, fields: ['kind', 'metadata.name', 'spec.owner'] });
  const filtered = await client.getEntitiesByRefs({ entityRefs: refs, filter: { kind: 'Component' }, fields: ['metadata.name'] });
  const full = await client.getEntitiesByRefs({ entityRefs: [group, 'group:default/nope'] });
  out.getEntitiesByRefs = {
    refs,
    projected: projected.items.map(e => e ?? null),
    filtered: filtered.items.map(e => e ?? null),
    full: full.items.map(e => withoutVolatile(e) ?? null),
    empty: (await client.getEntitiesByRefs({ entityRefs: [] })).items,
  };
}

async function facets(out) {
  const all = await client.getEntityFacets({ facets: ['kind', 'spec.lifecycle', 'relations.ownedBy'] });
  const components = await client.getEntityFacets({
    facets: ['spec.type', 'metadata.tags', 'Spec.Lifecycle'],
    filter: { kind: 'Component' },
  });
  const predicate = await client.getEntityFacets({ facets: ['spec.type'], query: { kind: { $in: ['api', 'resource'] } } });
  out.getEntityFacets = {
    all: { kind: all.facets.kind, 'spec.lifecycle': all.facets['spec.lifecycle'], ownedByBuckets: all.facets['relations.ownedBy'].length,
      ownedByTop: all.facets['relations.ownedBy'].slice(0, 5) },
    components: components.facets,
    predicate: predicate.facets,
  };
}

async function ancestors(out, component) {
  const a = await client.getEntityAncestors({ entityRef: component });
  out.getEntityAncestors = {
    rootEntityRef: a.rootEntityRef,
    items: a.items.map(i => ({ entity: withoutVolatile(i.entity), parentEntityRefs: i.parentEntityRefs })),
  };
  out.getEntityAncestorsMissing = await failure(client.getEntityAncestors({ entityRef: 'component:default/this-does-not-exist' }));
}

async function locations(out) {
  const target = `${WEB_URL}/repo/catalog-info.yaml`;
  const before = await client.getLocations();
  const dry = await client.addLocation({ type: 'url', target, dryRun: true });
  const dryMissing = await failure(client.addLocation({ type: 'url', target: `${WEB_URL}/repo/nope.yaml`, dryRun: true }));
  const fileType = await failure(client.addLocation({ type: 'file', target: '/etc/hostname' }));
  const added = await client.addLocation({ target });
  const id = added.location.id;
  const entity = await waitFor('the registered location to be ingested', () => client.getEntityByRef('component:default/web-component'));
  await waitFor('the api of the registered location', async () => {
    const e = await client.getEntityByRef('component:default/web-component');
    return (e.relations ?? []).length >= 2 ? e : undefined;
  });
  const after = await client.getLocations();
  const byId = await client.getLocationById(id);
  const byRef = await client.getLocationByRef(`url:${target}`);
  const byEntity = await client.getLocationByEntity('component:default/web-component');
  const again = await failure(client.addLocation({ target }));
  const dryAgain = await client.addLocation({ target, dryRun: true });
  const component = withoutVolatile(await client.getEntityByRef('component:default/web-component'));
  const locationEntity = withoutVolatile(await client.getEntityByRef(added.location.entityRef));
  await client.removeLocationById(id);
  const gone = await waitFor('the location entities to go', async () =>
    (await client.getEntityByRef('component:default/web-component')) === undefined ? 'gone' : undefined);
  const afterRemove = await client.getLocations();
  const removedAgain = await failure(client.removeLocationById(id));
  const strip = l => ({ type: l.type, target: l.target, entityRef: l.entityRef, idIsUuid: /^[0-9a-f-]{36}$/.test(l.id) });
  out.locations = {
    before: before.items,
    dryRun: {
      exists: dry.exists,
      location: dry.location,
      entities: dry.entities.map(withoutVolatile),
    },
    dryRunMissing: dryMissing,
    fileType,
    added: { location: strip(added.location), entities: added.entities, exists: added.exists ?? null },
    after: after.items.map(strip),
    byId: strip(byId),
    byRef: byRef ? strip(byRef) : null,
    byEntity: byEntity ? strip(byEntity) : null,
    addedAgain: again,
    dryRunAgain: { exists: dryAgain.exists, entities: dryAgain.entities.map(refOf) },
    ingestedComponent: component,
    registeredLocationEntity: locationEntity,
    firstSeen: refOf(entity),
    afterRemove: { entityGone: gone === 'gone', locations: afterRemove.items },
    byIdAfterRemove: (await client.getLocationById(id)) ?? null,
    removedAgain,
  };
}

async function validate(out) {
  const location = `url:${WEB_URL}/repo/catalog-info.yaml`;
  const good = {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name: 'validated' },
    spec: { type: 'service', lifecycle: 'production', owner: 'group:default/org' },
  };
  const noLifecycle = { ...good, spec: { type: 'service', owner: 'org' } };
  const badName = { ...good, metadata: { name: 'Bad Name!' } };
  const noApiVersion = { kind: 'Component', metadata: { name: 'x' }, spec: good.spec };
  const foreign = { ...good, kind: 'Widget' };
  const badRef = { ...good, spec: { ...good.spec, dependsOn: ['no-kind-here'] } };
  out.validateEntity = {
    valid: await client.validateEntity(good, location),
    noLifecycle: await client.validateEntity(noLifecycle, location),
    badName: await client.validateEntity(badName, location),
    noApiVersion: await client.validateEntity(noApiVersion, location),
    foreignKind: await client.validateEntity(foreign, location),
    badRef: await client.validateEntity(badRef, location),
    fileLocation: await client.validateEntity(good, 'file:/tmp/x.yaml'),
  };
}

async function refreshAndRemove(out, component) {
  await client.refreshEntity(component);
  const missing = await failure(client.refreshEntity('component:default/this-does-not-exist'));
  const entity = await client.getEntityByRef(component);
  await client.removeEntityByUid(entity.metadata.uid);
  const right = await client.getEntityByRef(component);
  await client.removeEntityByUid('00000000-0000-4000-8000-000000000000'); // unknown uid: still 204
  out.refreshEntity = { ok: true, missing };
  // The location still emits it, so it comes back later with a new uid (Backstage: within
  // seconds; greenroom: at the next run of its location): only "gone at once" is compared.
  out.removeEntityByUid = { goneRightAfter: right === undefined };
}

// Each part runs even when an earlier one failed, so one divergence does not hide the others.
async function part(out, name, fn) {
  try {
    await fn();
  } catch (err) {
    out.failures ??= {};
    out.failures[name] = String(err?.stack ?? err);
  }
}

async function main() {
  const out = {};
  const components = await client.getEntities({
    filter: { kind: 'Component' },
    order: { field: 'metadata.name', order: 'asc' },
    limit: 2,
    fields: ['kind', 'metadata.name'],
  });
  const component = refOf(components.items[0]);
  const groups = await client.getEntities({ filter: { kind: 'Group' }, order: { field: 'metadata.name', order: 'asc' }, limit: 1, fields: ['kind', 'metadata.name'] });
  const group = refOf(groups.items[0]);
  out.picked = { component, group };
  await part(out, 'queryWalk', () => queryWalk(out));
  await part(out, 'byRefs', () => byRefs(out, component, group));
  await part(out, 'facets', () => facets(out));
  await part(out, 'ancestors', () => ancestors(out, component));
  await part(out, 'validate', () => validate(out));
  await part(out, 'locations', () => locations(out));
  await part(out, 'refreshAndRemove', () => refreshAndRemove(out, refOf(components.items[1])));
  out.wire = [...new Set(wire)].sort();
  out.ok = !out.failures;
  console.log(JSON.stringify(out, null, 2));
  if (out.failures) process.exit(1);
}

main().catch(err => {
  console.error(JSON.stringify({ ok: false, error: String(err?.stack ?? err) }, null, 2));
  process.exit(1);
});
