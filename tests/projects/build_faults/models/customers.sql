select
    id,
    name
    {%- if env_var('BUILD_FAULTS_DROP_EMAIL', '0') != '1' %},
    email
    {%- endif %}
from {{ ref('raw_customers') }}
