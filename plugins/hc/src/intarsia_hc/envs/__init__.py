"""The plugin's environments: Pendulum (CPU), DeepMind Control from state (extra ``dmc``), 2-D point navigation.

Envs may declare ``observation_names`` (one name per flattened observation entry); the interpretability
report labels the sub-policies' coefficients with them."""
