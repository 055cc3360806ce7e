'use strict';
// Runs Backstage's own validation and relation emission over a corpus of entities, so that the
// Python test can compare greenroom's verdicts, messages, completed entities and relations with it.
//
// Usage: node backstage_process.cjs <dir holding node_modules> <corpus.json>
// The corpus is a JSON array of {"id": ..., "entity": ...}; the output (stdout) is a JSON array of
// {"id", "ok", "error": {name, message, causeName, causeMessage} | null, "entity", "relations"}.
//
// The stages and their error wrapping mirror DefaultCatalogProcessingOrchestrator.processSingleEntity
// of @backstage/plugin-catalog-backend 4.0.5: envelope schema, preprocess, entity policies (the
// CatalogBuilder defaults, in its order), entity schema, validateEntityKind of every processor,
// postprocess. Only the processors that matter for the model run: BuiltinKindsEntityProcessor and the
// scaffolder module's ScaffolderEntitiesProcessor. Placeholder resolution and location reading need
// a URL reader and are not part of the model, so they are left out; so is the location-annotation
// lookup, which the ingestion pipeline (not the model) is responsible for.

const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');

const [, , depsDir, corpusPath] = process.argv;
const req = createRequire(path.join(path.resolve(depsDir), 'package.json'));

const model = req('@backstage/catalog-model');
const { InputError, ConflictError, toError } = req('@backstage/errors');
const { BuiltinKindsEntityProcessor } = req('@backstage/plugin-catalog-backend');
const {
  ScaffolderEntitiesProcessor,
} = req('@backstage/plugin-catalog-backend-module-scaffolder-entity-model');

const validateEntityEnvelope = model.entityEnvelopeSchemaValidator();
const validateEntity = model.entitySchemaValidator();
const policy = model.EntityPolicies.allOf([
  new model.SchemaValidEntityPolicy(),
  new model.DefaultNamespaceEntityPolicy(),
  new model.NoForeignRootFieldsEntityPolicy(),
  new model.FieldFormatEntityPolicy(model.makeValidator()),
]);
const processors = [new BuiltinKindsEntityProcessor(), new ScaffolderEntitiesProcessor()];
const location = { type: 'url', target: 'https://example.com/catalog-info.yaml' };
const noCache = {
  async get() {
    return undefined;
  },
  async set() {},
};

async function processOne(unprocessedEntity) {
  const relations = [];
  const emit = item => {
    if (item.type === 'relation') {
      const { source, type, target } = item.relation;
      relations.push([model.stringifyEntityRef(source), type, model.stringifyEntityRef(target)]);
    }
  };

  let entity = unprocessedEntity;
  try {
    validateEntityEnvelope(entity);
  } catch (e) {
    throw new InputError(`Entity envelope failed validation before processing`, e);
  }
  const entityRef = model.stringifyEntityRef(entity);

  for (const processor of processors) {
    if (processor.preProcessEntity) {
      try {
        entity = await processor.preProcessEntity(entity, location, emit, location, noCache);
      } catch (e) {
        throw new InputError(
          `Processor ${processor.getProcessorName()} threw an error while preprocessing`,
          e,
        );
      }
    }
  }

  let enforced;
  try {
    enforced = await policy.enforce(entity);
  } catch (e) {
    throw new InputError(`Policy check failed for ${model.stringifyEntityRef(entity)}`, e);
  }
  entity = enforced;

  if (model.stringifyEntityRef(entity) !== entityRef) {
    throw new ConflictError('Fatal: The entity kind, namespace, or name changed during processing');
  }
  try {
    validateEntity(entity);
  } catch (e) {
    throw new ConflictError(
      `Entity envelope for ${entityRef} failed validation after preprocessing`,
      e,
    );
  }
  let valid = false;
  for (const processor of processors) {
    if (processor.validateEntityKind) {
      try {
        if (await processor.validateEntityKind(entity)) {
          valid = true;
        }
      } catch (e) {
        throw new InputError(
          `Processor ${processor.getProcessorName()} threw an error while validating the entity ${entityRef}`,
          e,
        );
      }
    }
  }
  if (!valid) {
    throw new InputError(
      `No processor recognized the entity ${entityRef} as valid, possibly caused by a foreign kind or apiVersion`,
    );
  }

  for (const processor of processors) {
    if (processor.postProcessEntity) {
      try {
        entity = await processor.postProcessEntity(entity, location, emit, noCache);
      } catch (e) {
        throw new InputError(
          `Processor ${processor.getProcessorName()} threw an error while postprocessing`,
          e,
        );
      }
    }
  }
  return { entity, relations };
}

async function main() {
  const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
  const results = [];
  for (const { id, entity } of corpus) {
    try {
      const done = await processOne(entity);
      results.push({
        id,
        ok: true,
        error: null,
        entity: JSON.stringify(done.entity),
        relations: done.relations,
      });
    } catch (e) {
      const err = toError(e);
      const cause = err.cause ? toError(err.cause) : undefined;
      results.push({
        id,
        ok: false,
        error: {
          name: err.name,
          message: err.message,
          causeName: cause ? cause.name : null,
          causeMessage: cause ? cause.message : null,
        },
        entity: null,
        relations: [],
      });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch(e => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
