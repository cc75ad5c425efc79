// name: recommendation-coverage
// description: Per model: how many recommendations, the share of users who have some and of the catalogue that gets recommended, and the mean score.
// portable: true
MATCH (i:Item)
WITH count(i) AS catalogue
MATCH (u:User)
WITH catalogue, count(u) AS users
MATCH (u:User)-[r:RECOMMENDED]->(i:Item)
WITH catalogue, users, r.model AS model, count(r) AS recommendations, count(DISTINCT u) AS reached, count(DISTINCT i) AS recommended_items, avg(r.score) AS mean_score
RETURN model, recommendations, reached AS users_with_recommendations, round(1.0 * reached / users, 4) AS user_coverage, recommended_items, round(1.0 * recommended_items / catalogue, 4) AS catalogue_coverage, round(mean_score, 4) AS mean_score
ORDER BY model
