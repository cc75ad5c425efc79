// name: segment-brand-affinity
// description: Brands each segment over-buys: the brand's share of the segment's purchases divided by its share of all purchases (lift).
// param: min_purchases INT64 = 5 -- ignore segment/brand pairs with fewer purchases
// param: k INT64 = 30 -- how many pairs to list
// portable: true
MATCH (:User)-[p:PURCHASED]->(:Item)
WITH count(p) AS total
MATCH (s:Segment)<-[:IN_SEGMENT]-(:User)-[p:PURCHASED]->(:Item)
WITH total, s, count(p) AS segment_total
MATCH (s)<-[:IN_SEGMENT]-(:User)-[:PURCHASED]->(:Item)-[:HAS_BRAND]->(b:Brand)
WITH total, s, segment_total, b, count(*) AS segment_brand
WHERE segment_brand >= $min_purchases
MATCH (:User)-[:PURCHASED]->(:Item)-[:HAS_BRAND]->(b)
WITH total, s, segment_total, b, segment_brand, count(*) AS brand_total
RETURN s.id AS segment, b.name AS brand, segment_brand AS purchases, round(1.0 * segment_brand / segment_total, 4) AS share, round((1.0 * segment_brand / segment_total) / (1.0 * brand_total / total), 3) AS lift
ORDER BY lift DESC, segment, brand
LIMIT $k
