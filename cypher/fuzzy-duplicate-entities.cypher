// name: fuzzy-duplicate-entities
// description: Organisations whose name is close to a brand's name by edit distance (APOC), for names the exact check misses ("Nortpeak").
// param: threshold DOUBLE = 0.8 -- minimum Levenshtein similarity (0..1)
// param: k INT64 = 50 -- how many pairs to list
// portable: false
MATCH (o:Organization)
MATCH (b:Brand)
WITH o, b, apoc.text.levenshteinSimilarity(toLower(o.name), toLower(b.name)) AS similarity
WHERE similarity >= $threshold
RETURN o.id AS organization, o.name AS name, b.id AS brand, b.name AS brand_name, round(similarity, 3) AS similarity
ORDER BY similarity DESC, organization, brand
LIMIT $k
