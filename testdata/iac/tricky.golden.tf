# EKS access entries of cluster tricky, written by aws-auth-migrate from testdata/iac/tricky.yaml
#   (offline plan).
# 4 access entries, 3 policy associations; 0 mappings stay in aws-auth.
# Review it like any change of who may use the cluster. The tool's created-by tag is never written
#   here.
#
# Offline plan, so no imports: EKS makes node, Fargate and cluster-creator entries itself at the
#   switch to API_AND_CONFIG_MAP, and creating them again fails with ResourceInUseException. Switch
#   the mode first, then write this again from the live cluster:
#   aws-auth-migrate migrate --cluster tricky --to dual   # or the authentication mode in your IaC
#   aws-auth-migrate plan --cluster tricky -o terraform
#
# Then, once applied:
#   aws-auth-migrate verify --cluster tricky            # parity, recorded for the api gate
#   aws-auth-migrate migrate --cluster tricky --to api --confirm tricky
# and then say API in the IaC's authentication mode too: EKS refuses any way back, so an apply that
#   still says API_AND_CONFIG_MAP fails.
#
# Needs Terraform 1.5 or later (import blocks) and the hashicorp/aws provider. cluster_name is a
#   literal because import ids must be known at plan time; point it at your cluster resource if you
#   prefer.

# mapRoles[0] in aws-auth
resource "aws_eks_access_entry" "deploy_111122223333_role" {
  cluster_name      = "tricky"
  principal_arn     = "arn:aws:iam::111122223333:role/deploy"
  type              = "STANDARD"
  user_name         = "deploy:$${CI_JOB}:{{SessionName}}"
  kubernetes_groups = ["on", "0777", "%%{if}", "developers"]
}

resource "aws_eks_access_policy_association" "deploy_111122223333_role_edit" {
  cluster_name  = "tricky"
  principal_arn = aws_eks_access_entry.deploy_111122223333_role.principal_arn
  policy_arn    = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"

  access_scope {
    type       = "namespace"
    namespaces = ["dev-*", "null"]
  }
}

# mapRoles[1] in aws-auth
resource "aws_eks_access_entry" "deploy_444455556666" {
  cluster_name      = "tricky"
  principal_arn     = "arn:aws:iam::444455556666:role/deploy"
  type              = "STANDARD"
  user_name         = "other-deploy"
  kubernetes_groups = ["yes"]
}

# mapRoles[2] in aws-auth
resource "aws_eks_access_entry" "team_dev" {
  cluster_name      = "tricky"
  principal_arn     = "arn:aws:iam::111122223333:role/team.dev"
  type              = "STANDARD"
  user_name         = "dev-team"
  kubernetes_groups = ["developers"]
}

resource "aws_eks_access_policy_association" "team_dev_edit" {
  cluster_name  = "tricky"
  principal_arn = aws_eks_access_entry.team_dev.principal_arn
  policy_arn    = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"

  access_scope {
    type       = "namespace"
    namespaces = ["dev-*", "null"]
  }
}

# mapUsers[0] in aws-auth
resource "aws_eks_access_entry" "deploy_111122223333_user" {
  cluster_name  = "tricky"
  principal_arn = "arn:aws:iam::111122223333:user/deploy"
  type          = "STANDARD"
  user_name     = "quote\"back\\slash#hash"
}

resource "aws_eks_access_policy_association" "deploy_111122223333_user_view" {
  cluster_name  = "tricky"
  principal_arn = aws_eks_access_entry.deploy_111122223333_user.principal_arn
  policy_arn    = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"

  access_scope {
    type = "cluster"
  }
}
