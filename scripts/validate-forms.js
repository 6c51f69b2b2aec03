#!/usr/bin/env node
/**
 * Validate Camunda Forms (form-js schema JSON) offline.
 *
 * Each file is imported with the real form-js viewer (@bpmn-io/form-js-viewer) in a
 * jsdom window: unknown component types, duplicate ids and duplicate keys fail the
 * import. On top of that the checks our contract needs:
 *   - the form `id` equals the file stem (the `formId` a user task links);
 *   - `type` "default", Camunda Cloud 8.10.0, a known `schemaVersion`;
 *   - every component has an explicit `id` and, where it holds data, a `key`;
 *   - every FEEL expression (`=...`) in the schema evaluates without error.
 *
 * Usage: node scripts/validate-forms.js forms/*.form   (exit 1 on any problem)
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { JSDOM } = require('jsdom');

const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
for (const name of Object.getOwnPropertyNames(dom.window)) {
  if (!(name in globalThis) && /^[A-Z]|^(document|navigator|getComputedStyle|requestAnimationFrame|cancelAnimationFrame)$/.test(name)) {
    globalThis[name] = dom.window[name];
  }
}
globalThis.window = dom.window;

const { Form, schemaVersion: viewerSchemaVersion } = require('@bpmn-io/form-js-viewer');

const EXECUTION_PLATFORM = 'Camunda Cloud';
const EXECUTION_PLATFORM_VERSION = '8.10.0';

function* walk(components) {
  for (const component of components || []) {
    yield component;
    yield* walk(component.components);
  }
}

function* expressions(value, where) {
  if (typeof value === 'string') {
    if (value.startsWith('=')) {
      yield [ where, value ];
    }
  } else if (Array.isArray(value)) {
    for (const [ index, item ] of value.entries()) {
      yield* expressions(item, `${where}[${index}]`);
    }
  } else if (value && typeof value === 'object') {
    for (const [ key, item ] of Object.entries(value)) {
      yield* expressions(item, where ? `${where}.${key}` : key);
    }
  }
}

async function validate(file) {
  const problems = [];
  const stem = path.basename(file).replace(/\.form$/, '');

  let schema;
  try {
    schema = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    return [ `not valid JSON: ${error.message}` ];
  }

  if (schema.id !== stem) {
    problems.push(`form id "${schema.id}" does not match the file name "${stem}"`);
  }
  if (schema.type !== 'default') {
    problems.push(`type must be "default", not ${JSON.stringify(schema.type)}`);
  }
  if (schema.executionPlatform !== EXECUTION_PLATFORM) {
    problems.push(`executionPlatform must be "${EXECUTION_PLATFORM}"`);
  }
  if (schema.executionPlatformVersion !== EXECUTION_PLATFORM_VERSION) {
    problems.push(`executionPlatformVersion must be "${EXECUTION_PLATFORM_VERSION}"`);
  }
  if (!Number.isInteger(schema.schemaVersion) || schema.schemaVersion < 1 ||
      schema.schemaVersion > viewerSchemaVersion) {
    problems.push(`schemaVersion must be an integer between 1 and ${viewerSchemaVersion}`);
  }
  if (!Array.isArray(schema.components) || schema.components.length === 0) {
    problems.push('the form has no components');
    return problems;
  }

  const container = document.createElement('div');
  document.body.appendChild(container);
  const form = new Form({ container });
  const evaluationErrors = [];
  form.on('error', ({ error }) => evaluationErrors.push(error));

  try {
    const { warnings } = await form.importSchema(schema, {});
    for (const warning of warnings || []) {
      problems.push(`form-js import warning: ${warning.message || warning}`);
    }
  } catch (error) {
    problems.push(`form-js cannot import it: ${error.message}`);
    form.destroy();
    return problems;
  }

  const formFields = form.get('formFields');
  const ids = new Set();
  for (const component of walk(schema.components)) {
    const label = component.id || component.key || component.type;
    if (!component.id) {
      problems.push(`component ${label} (${component.type}) has no explicit id`);
    } else if (ids.has(component.id)) {
      problems.push(`duplicate component id ${component.id}`);
    }
    ids.add(component.id);
    const definition = formFields.get(component.type);
    if (definition && definition.config.keyed && !component.key) {
      problems.push(`component ${label} (${component.type}) has no key`);
    }
  }

  const expressionLanguage = form.get('expressionLanguage');
  for (const [ where, expression ] of expressions(schema.components, 'components')) {
    evaluationErrors.length = 0;
    let thrown = null;
    try {
      expressionLanguage.evaluate(expression, {});
    } catch (error) {
      thrown = error;
    }
    const error = thrown || evaluationErrors[0];
    if (error) {
      problems.push(`invalid FEEL at ${where} (${expression}): ${error.message}`);
    }
  }

  form.destroy();
  return problems;
}

async function main(files) {
  if (files.length === 0) {
    console.error('usage: validate-forms.js FILE.form...');
    return 2;
  }
  let failed = 0;
  for (const file of files) {
    const problems = await validate(file);
    if (problems.length) {
      failed++;
      console.error(`${file}`);
      for (const problem of problems) {
        console.error(`  error  ${problem}`);
      }
    }
  }
  const total = files.length;
  if (failed) {
    console.error(`\n✖ ${failed} of ${total} form(s) invalid`);
    return 1;
  }
  console.log(`✔ ${total} form(s) valid (imported with form-js viewer, schema v${viewerSchemaVersion}; contract checks)`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  }
);
