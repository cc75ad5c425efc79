// Lint Cypher statements with Neo4j's own language support (ANTLR parser of the Cypher 5
// grammar plus Neo4j's semantic analysis, compiled to JavaScript).
//
// stdin:  {"schema": {labels, relationshipTypes, propertyKeys},
//          "statements": [{"id": "...", "text": "...", "parameters": {...}}]}
// stdout: [{"id": "...", "diagnostics": [{"severity": 1|2, "message": "...", "line": n}]}]
//
// Function and procedure signatures come from the package's bundled listing of a Neo4j 5
// server with APOC, so an unknown function (e.g. Kuzu's label()) is an error.
import { readFileSync } from 'node:fs';
import { lintCypherQuery, testData } from '@neo4j-cypher/language-support';

const request = JSON.parse(readFileSync(0, 'utf-8'));
const known = testData.mockSchema;
const results = request.statements.map(({ id, text, parameters }) => {
  const dbSchema = {
    ...request.schema,
    functions: known.functions,
    procedures: known.procedures,
    parameters: parameters ?? {},
    defaultLanguage: 'CYPHER 5',
  };
  const { diagnostics } = lintCypherQuery(text, dbSchema);
  return {
    id,
    diagnostics: diagnostics.map((d) => ({
      severity: d.severity,
      message: d.message,
      line: d.range.start.line + 1,
    })),
  };
});
process.stdout.write(JSON.stringify(results));
