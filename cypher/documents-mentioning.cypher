// name: documents-mentioning
// description: Documents (descriptions, reviews) that mention an entity, found by its id or its name in any case, with the mention and what the document is about.
// param: entity STRING = northpeak -- entity id or name
// param: k INT64 = 25 -- how many mentions to list
// portable: true
MATCH (d:Document)-[m:MENTIONS]->(e)
WHERE e.id = $entity OR toLower(e.name) = toLower($entity)
OPTIONAL MATCH (d)-[:DESCRIBES]->(about)
RETURN d.id AS document, d.source AS source, m.text AS mention, m.confidence AS confidence, e.name AS entity, about.name AS about
ORDER BY confidence DESC, document, mention
LIMIT $k
